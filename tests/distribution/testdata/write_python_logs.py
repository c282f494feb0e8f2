# Writes log files with the real Loguru (Debian's python3-loguru) and Python's logging (a JSON
# formatter with python-json-logger's keys) into the folder given as argv[1], and prints one
# JSON line per record logged: what the test expects the agent to ship (message, level, the
# library's own timestamp in microseconds, bound fields, exception type).
import json
import logging
import os
import sys

from loguru import logger

out = sys.argv[1]
expected = []
current = {"file": None}


def capture(message):
    r = message.record
    expected.append({
        "file": current["file"],
        "message": r["message"],
        "level": r["level"].name,
        "ts_us": round(r["time"].timestamp() * 1e6),
        "extra": {k: v for k, v in r["extra"].items()},
        "exception": r["exception"].type.__name__ if r["exception"] else None,
    })


def fail():
    return {"model": "gpt-4"}["missing"]


logger.remove()
logger.add(capture, level="TRACE", format="{message}")


def sink(name, **kw):
    current["file"] = name
    return logger.add(os.path.join(out, name), level="TRACE", **kw)


# Loguru serialize=True: Loguru's own JSON.
sid = sink("loguru-json.log", serialize=True)
logger.bind(trace_id="req-abc123", tenant_id="tenant-xyz", model="gpt-4").info("request_completed")
logger.bind(request_id="req-json-2").success("cache_warmed")
logger.bind(request_id="req-json-3", service="llm-gateway").warning("rate_limited")
logger.bind(request_id="req-json-4").trace("token_counted")
logger.bind(request_id="req-json-5").debug("prompt_built")
logger.bind(request_id="req-json-6").critical("pool_exhausted")
try:
    fail()
except KeyError:
    logger.bind(request_id="req-json-7").exception("upstream_failed")
logger.remove(sid)


# Seed 004's text format: "{time} | {level} | {name} | {message} | k=v k=v".
def seed_format(record):
    kv = " ".join(f"{k}={v}" for k, v in record["extra"].items())
    return ("{time:YYYY-MM-DD HH:mm:ss.SSS} | {level} | {name} | {message} | "
            + kv.replace("{", "{{").replace("}", "}}") + "\n{exception}")


sid = sink("loguru-seed.log", format=seed_format)
logger.bind(trace_id="req-seed-1", tenant_id="tenant-xyz").info("request_completed")
try:
    fail()
except KeyError:
    logger.bind(request_id="req-seed-2").exception("upstream_failed")
logger.bind(request_id="req-seed-3").success("retry_succeeded")
logger.remove(sid)

# Loguru's default format; key=value pairs at the end of the message.
sid = sink("loguru-default.log")
logger.info("request_completed trace_id=req-def-1 tenant_id=tenant-xyz")
try:
    fail()
except KeyError:
    logger.exception("upstream_failed request_id=req-def-2")
logger.warning("slow_upstream request_id=req-def-3")
logger.remove(sid)


# Python logging with a JSON formatter (python-json-logger's keys).
class JSONFormatter(logging.Formatter):
    reserved = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record):
        record.message = record.getMessage()
        doc = {"asctime": self.formatTime(record), "levelname": record.levelname,
               "name": record.name, "message": record.message}
        doc.update({k: v for k, v in vars(record).items() if k not in self.reserved})
        if record.exc_info:
            doc["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(doc)


class Capture(logging.Handler):
    def emit(self, record):
        extra = {k: v for k, v in vars(record).items() if k not in JSONFormatter.reserved}
        expected.append({
            "file": "python-json.log", "message": record.getMessage(), "level": record.levelname,
            # what asctime shows: whole seconds and record.msecs
            "ts_us": int(record.created) * 1000000 + int(record.msecs) * 1000,
            "extra": extra, "exception": record.exc_info[0].__name__ if record.exc_info else None,
        })


fh = logging.FileHandler(os.path.join(out, "python-json.log"))
fh.setFormatter(JSONFormatter())
log = logging.getLogger("app.api.v1.external.gateway")
log.setLevel(logging.DEBUG)
log.addHandler(fh)
log.addHandler(Capture())
log.info("request_completed", extra={"request_id": "req-py-1", "tenant_id": "tenant-xyz"})
log.warning("quota_low", extra={"request_id": "req-py-2"})
try:
    fail()
except KeyError:
    log.exception("upstream_failed", extra={"request_id": "req-py-3"})
fh.close()

for e in expected:
    print(json.dumps(e))
