"""One log format for Gunicorn's lines and the app's (LOG_FORMAT: text or json), one line each,
on stdout; each line logged for a request ends with its ID (the app's request_ids.py)."""

import json
import logging
import sys
from datetime import UTC, datetime

from flask import has_request_context, request
from gunicorn import glogging

from . import settings

# Gunicorn's access line; in JSON, the request's fields from the same atoms.
ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'
ACCESS_FIELDS = {"h": "client", "m": "method", "U": "path", "q": "query", "s": "status",
                 "B": "bytes", "M": "duration_ms", "a": "user_agent",
                 "{x-request-id}o": "request_id"}  # fmt: skip


def log_format() -> str:
    return settings.read("LOG_FORMAT", "text", ["text", "json"])


class RequestId(logging.Filter):
    """The ID of the request a line is logged for, or None outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = (
            request.environ.get("HTTP_X_REQUEST_ID") if has_request_context() else None
        )
        record.request_suffix = f" request_id={record.request_id}" if record.request_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; access lines also carry the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.request_id:
            entry["request_id"] = record.request_id
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry |= {field: record.args[atom] for atom, field in ACCESS_FIELDS.items()}
            entry["status"] = int(entry["status"])
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class Logger(glogging.Logger):
    """Gunicorn's logger (logger_class in gunicorn.conf.py), sending Gunicorn's lines and the
    app's to stdout in one format."""

    def setup(self, cfg):
        super().setup(cfg)
        handler = logging.StreamHandler(sys.stdout)
        handler.addFilter(RequestId())
        if log_format() == "json":
            handler.setFormatter(JsonFormatter())
        else:
            text = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s%(request_suffix)s"
            handler.setFormatter(logging.Formatter(text))
        for log in (self.error_log, self.access_log, logging.getLogger()):
            log.handlers[:] = [handler]
        logging.getLogger().setLevel(self.loglevel)
        logging.captureWarnings(True)
