"""The template's rules for answers, and the Jinja filters that apply them (cookiecutter.json's
``_extensions`` loads this module from the template's folder).

``checked`` renders the project folder's name, ``{{cookiecutter.project_slug|checked}}``. That
is the first thing cookiecutter renders once the questions are answered, before it creates
anything, so every answer is checked there: a bad one stops generation with one line on stderr
naming the prompt, the value and what is allowed, and nothing is created, whether the output
folder exists or not, and with ``--accept-hooks no`` too. A slug such as ``..`` or ``a/b``
never becomes a path.

``markdown`` writes a text answer into the generated README as the plain text it is.

``origin`` gives the template's address and commit for ``.cookiecutter.json``, so that the
project's ``update_template.py`` finds the template again.
"""

import functools
import json
import keyword
import re
import subprocess
import sys
import unicodedata
from importlib.metadata import version
from pathlib import Path

from jinja2 import pass_context
from jinja2.ext import Extension

# The questions, from cookiecutter.json beside this folder ("_" entries are cookiecutter's).
QUESTIONS = {
    name: value
    for name, value in json.loads(
        (Path(__file__).parent.parent / "cookiecutter.json").read_text("utf-8")
    ).items()
    if not name.startswith("_")
}
CHOICES = {name: value for name, value in QUESTIONS.items() if isinstance(value, list)}
YES_NO = [name for name, value in QUESTIONS.items() if isinstance(value, bool)]

SLUG = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
SLUG_LENGTH = 63  # the longest Kubernetes name and label value
# The slug names the app's package, imported from the project's folder: it must not hide a
# module that the app, its tools or Python import, nor collide with what the project holds.
# Python's standard library, every version on offer (a project moves up; public names only,
# as a slug cannot start with "_"), with the running Python's own added at run time:
STANDARD_LIBRARY = """
    abc aifc annotationlib antigravity argparse array ast asynchat asyncio asyncore atexit
    audioop base64 bdb binascii bisect builtins bz2 cProfile calendar cgi cgitb chunk cmath
    cmd code codecs codeop collections colorsys compileall compression concurrent
    configparser contextlib contextvars copy copyreg crypt csv ctypes curses dataclasses
    datetime dbm decimal difflib dis distutils doctest email encodings ensurepip enum errno
    faulthandler fcntl filecmp fileinput fnmatch fractions ftplib functools gc genericpath
    getopt getpass gettext glob graphlib grp gzip hashlib heapq hmac html http idlelib
    imaplib imghdr imp importlib inspect io ipaddress itertools json keyword lib2to3
    linecache locale logging lzma mailbox mailcap marshal math mimetypes mmap modulefinder
    msilib msvcrt multiprocessing netrc nis nntplib nt ntpath nturl2path numbers opcode
    operator optparse os ossaudiodev pathlib pdb pickle pickletools pipes pkgutil platform
    plistlib poplib posix posixpath pprint profile profiling pstats pty pwd py_compile
    pyclbr pydoc pydoc_data pyexpat queue quopri random re readline reprlib resource
    rlcompleter runpy sched secrets select selectors shelve shlex shutil signal site smtpd
    smtplib sndhdr socket socketserver spwd sqlite3 sre_compile sre_constants sre_parse ssl
    stat statistics string stringprep struct subprocess sunau symtable sys sysconfig syslog
    tabnanny tarfile telnetlib tempfile termios textwrap this threading time timeit tkinter
    token tokenize tomllib trace traceback tracemalloc tty turtle turtledemo types typing
    unicodedata unittest urllib uu uuid venv warnings wave weakref webbrowser winreg
    winsound wsgiref xdrlib xml xmlrpc zipapp zipfile zipimport zlib zoneinfo
"""
# What the project's locks install, every option's included (import names; a test keeps this
# list in step with the locks), and what a virtual environment starts with:
INSTALLED = """
    alembic arrow backports binaryornot blinker brotli certifi cfgv charset_normalizer click
    cookiecutter dateutil distlib filelock flask gunicorn identify idna iniconfig
    itsdangerous jinja2 mako markdown_it markupsafe mdurl nodeenv packaging pip
    pkg_resources platformdirs pluggy pre_commit prometheus_client psycopg psycopg_binary py
    pygments pytest python_discovery requests rich ruff setuptools slugify sqlalchemy
    text_unidecode typing_extensions tzdata urllib3 uv virtualenv werkzeug yaml
"""
# Names the project itself uses beside the package: folders, modules, and the Dockerfile and
# Caddyfile (the same names as folders on a case-insensitive disk). A test keeps this in step
# with the files.
OWN_NAMES = (
    "caddyfile conftest develop docs dockerfile healthcheck k8s migrations serving static_build"
    " test_app test_notes test_static tests update_template"
)
RESERVED = frozenset(
    (STANDARD_LIBRARY + INSTALLED + OWN_NAMES).split() + list(sys.stdlib_module_names)
)

# Ports below 1024 need root, and the app runs as an unprivileged user.
PORTS = range(1024, 65536)
# 1000 workers is far past what one machine runs well; 1000 threads per worker is Gunicorn's
# worker_connections; 1000 replicas keeps clear of Kubernetes' int32 field.
COUNTS = range(1, 1001)
# Bidirectional embeddings, overrides and isolates: they reorder the text that follows them.
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def one_line(text: str) -> bool:
    """Text on one line, without spaces around it. Any letter, mark, symbol or space is fine,
    and so are the invisible characters written text needs (the zero-width joiner of emoji
    sequences, the non-joiner of Persian, the soft hyphen); not controls, line or paragraph
    separators, or characters that reorder the text around them."""
    refused = {"Cc", "Cs", "Zl", "Zp"}
    return text == text.strip() and not any(
        unicodedata.category(c) in refused or c in BIDI_CONTROLS for c in text
    )


def integer_in(allowed: range):
    return lambda text: re.fullmatch(r"[1-9][0-9]{0,5}", text) and int(text) in allowed


COUNT = f"an integer from {COUNTS.start} to {COUNTS.stop - 1}"
# Text answers: (is it allowed?, what is allowed).
TEXT = {
    "project_name": (lambda v: v and one_line(v), "a name on one line, not blank"),
    "project_slug": (
        lambda v: (
            len(v) <= SLUG_LENGTH
            and SLUG.fullmatch(v)
            and not keyword.iskeyword(v)
            and v not in RESERVED
        ),
        (
            f"up to {SLUG_LENGTH} lowercase letters, digits and single underscores, starting "
            "with a letter; not a Python keyword, nor a module of Python, of the project's "
            "packages or of the project itself, such as json, flask, pytest or tests (it names "
            "the app's package, its image and Kubernetes objects)"
        ),
    ),
    "description": (one_line, "one line of text without leading or trailing spaces"),
    "port": (integer_in(PORTS), f"an integer from {PORTS.start} to {PORTS.stop - 1}"),
    "workers": (lambda v: v == "auto" or integer_in(COUNTS)(v), f"{COUNT}, or 'auto'"),
    "threads": (integer_in(COUNTS), COUNT),
    "replicas": (integer_in(COUNTS), COUNT),
    **{
        name: (choices.__contains__, "one of " + ", ".join(choices))
        for name, choices in CHOICES.items()
    },
}
NUMBERS = ["port", "workers", "threads", "replicas"]


def expected(name: str, value: object) -> str | None:
    """What is expected instead of this answer's value, or None when the value is allowed."""
    if name in YES_NO:
        # cookiecutter turns yes/no typed or given on the command line into booleans; a replay
        # file must hold JSON booleans, since the text "no" would count as true.
        return None if isinstance(value, bool) else "yes or no (true or false in a replay file)"
    if name not in TEXT:
        return None  # cookiecutter's own entries (_template, ...), and any we do not ask
    if name in NUMBERS and type(value) is int:
        value = str(value)  # a hand-written replay file may hold numbers
    valid, allowed = TEXT[name]
    return None if isinstance(value, str) and valid(value) else allowed


def shown(value: object, limit: int = 40) -> str:
    """The value as the message quotes it: text in quotes, anything else as JSON; cut if long."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return text
    length = len(value) if isinstance(value, str) else len(text)
    return f"{text[:limit]}... ({length} characters)"


@pass_context
def checked(context, slug: str) -> str:
    """The slug, once every answer is allowed; otherwise stop with one line on stderr."""
    for name, value in context["cookiecutter"].items():
        allowed = expected(name, value)
        if allowed:
            # SystemExit prints its text on stderr and exits with status 1, before cookiecutter
            # has created anything; pytest-cookies and cruft report it as a failed bake.
            raise SystemExit(f"error: {name}={shown(value)} is not allowed; expected {allowed}.")
    return slug


# What would act at a line's start, once INLINE has escaped the rest: a list item, a rule, a
# setext underline, a table; an ordered list's number ("1." or "1)").
LINE_START = re.compile(r"^(?:[+\-=|]|\d{1,9}(?=[.)]))")
# Everywhere else: escapes, code, emphasis, links, headings' closing #s, strikethrough, HTML.
INLINE = str.maketrans({c: "\\" + c for c in "\\`*_[~#"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def markdown(text: str) -> str:
    """A one-line text answer as Markdown that shows it as typed: it cannot open a code block,
    an HTML block, a heading or a list, nor lose a character to Markdown's syntax."""
    text = text.translate(INLINE)
    if match := LINE_START.match(text):
        # "\-": the character itself; "1986\." and "1\)": a number, not a list item.
        at = match.end() if text[0].isdigit() else 0
        text = f"{text[:at]}\\{text[at:]}"
    return text


def public(address: str) -> str:
    """An address as it may be recorded: no user or token of an http(s) URL, no password of any
    other, no query or fragment of an http(s) URL (where tokens go too)."""
    scheme, separator, rest = address.partition("://")
    if not separator:
        return address  # gh:owner/repo, git@host:owner/repo, a path
    host, slash, path = rest.partition("/")
    userinfo, at, host = host.rpartition("@")
    web = scheme.rpartition("+")[2] in ("http", "https")
    if at and not web:
        host = f"{userinfo.partition(':')[0]}@{host}"
    if web:
        path = path.partition("?")[0].partition("#")[0]
    return f"{scheme}://{host}{slash}{path}"


def origin(cookiecutter: dict, start: Path) -> dict | None:
    """{"address": ..., "commit": ...} of the template being baked, or None when its folder is
    not the top of a git checkout (a plain folder, an archive, a subfolder of a repository).
    The address is the one given to cookiecutter, credentials left out, or, for a local clone,
    its absolute path. start is the folder cookiecutter was started in: it renders files from
    inside the template, and resolves the paths it was given against start."""
    template, repo_dir = cookiecutter.get("_template"), cookiecutter.get("_repo_dir")
    if not isinstance(template, str) or not isinstance(repo_dir, str):
        return None  # cruft, for one, leaves _repo_dir out
    folder = (start / Path(repo_dir).expanduser()).resolve()
    try:
        found = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.split("\n")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    if Path(found[0]).resolve() != folder:
        return None
    typed = start / Path(template).expanduser()
    # A template found by its name among cookiecutter's clones is recorded as that clone.
    local = typed.is_dir() or folder.name == template
    return {"address": str(folder) if local else public(template), "commit": found[1]}


# Yes/no questions and the prompts' texts (__prompts__) came in cookiecutter 2.2. An older one
# would ask "compose [True]:" and take the text it gets for an answer.
OLDEST_COOKIECUTTER = (2, 2)


class Answers(Extension):
    """Loaded as cookiecutter reads the template, before it asks anything."""

    def __init__(self, environment):
        super().__init__(environment)
        found = version("cookiecutter")  # 2.2.0 says 2.1.2.dev0 in its __version__
        if tuple(map(int, re.findall(r"\d+", found)[:2])) < OLDEST_COOKIECUTTER:
            oldest = ".".join(map(str, OLDEST_COOKIECUTTER))
            raise SystemExit(
                f"error: this template needs cookiecutter {oldest} or newer; found {found} "
                "(pip install --upgrade cookiecutter)."
            )
        # cookiecutter renders the files from inside the template's folder: paths it was given
        # are relative to the folder it started in, where it creates this environment.
        start = Path.cwd()
        environment.filters.update(
            checked=checked, markdown=markdown, origin=functools.partial(origin, start=start)
        )
