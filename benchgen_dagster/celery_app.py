"""The Celery app the production workers serve (`benchgen celery-worker`, or `celery -A
benchgen_dagster.celery_app worker`): dagster-celery's step task, with the broker, backend, queue and
delivery settings the jobs' `celery_executor` is given (`definitions.celery_config`), so the two never
disagree."""

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from benchgen_dagster.definitions import celery_config

app = make_app(CeleryExecutor.for_cli(**celery_config()).app_args())
execute_plan = create_task(app)
