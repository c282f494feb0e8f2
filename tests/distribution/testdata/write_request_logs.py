# Appends one Loguru serialize=True record per request ID (argv[2:]) to the file argv[1], the
# way seed 004's gateway logs request_completed: the request ID bound as request_id, no trace
# context.
import sys

from loguru import logger

logger.remove()
logger.add(sys.argv[1], serialize=True)
for request_id in sys.argv[2:]:
    logger.bind(request_id=request_id, tenant_id="tenant-xyz").info("request_completed")
