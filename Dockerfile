# LB Lab image: daphne (web + WebSockets) by default; the same image runs the worker
# with `python manage.py qcluster`. First version: the deployment issue completes it
# with the manifests in k8s/.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    DEBUG=off

WORKDIR /app
RUN groupadd --system lblab && useradd --system --gid lblab --home /app lblab

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings but no real secret or database: a throwaway key, never kept.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput --verbosity 0

USER lblab
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/accounts/login/', timeout=4)"
CMD ["python", "-m", "daphne", "-b", "0.0.0.0", "-p", "8000", "lbsite.asgi:application"]
