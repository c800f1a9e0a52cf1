#!/bin/sh
# The image's processes, by name (Dockerfile, k8s/): one image, one role per container.
set -eu
role="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$role" in
  web) exec python -m daphne -b 0.0.0.0 -p "${PORT:-8000}" lbsite.asgi:application "$@" ;;
  worker) exec python manage.py qcluster "$@" ;;
  migrate) exec python manage.py migrate --noinput "$@" ;;
  *) echo "unknown role '$role': web, worker or migrate" >&2; exit 2 ;;
esac
