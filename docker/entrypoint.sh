#!/bin/sh
# The image's processes, by name (Dockerfile, k8s/): one image, one role per container.
set -eu
role="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$role" in
  web) exec python -m daphne -b 0.0.0.0 -p "${PORT:-8000}" lbsite.asgi:application "$@" ;;
  worker) exec python manage.py qcluster "$@" ;;
  migrate) exec python manage.py migrate --noinput "$@" ;;
  # A Locust worker of a run's worker Job (k8s/base/locust-worker-job.yaml): LB Lab fills in its arguments.
  locust-worker) exec python -m locust "$@" ;;
  *) echo "unknown role '$role': web, worker, migrate or locust-worker" >&2; exit 2 ;;
esac
