# LB Lab's one image: `web` (daphne: pages, API, WebSockets), `worker` (the task worker that runs
# the load tests) and `migrate`, chosen by the first argument (docker/entrypoint.sh). Two stages: the dependencies are installed into a
# virtualenv in the first, and only that virtualenv and the code reach the second (no compilers,
# no pip cache). Checked by hadolint in the test suite (tests/lbsite/test_dockerfile.py).

# ---- dependencies
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --requirement /tmp/requirements.txt

# ---- the image
FROM python:3.11.13-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/tmp/numba-cache \
    DEBUG=off
RUN groupadd --system --gid 999 lblab && useradd --system --uid 999 --gid lblab --home-dir /app lblab
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=lblab:lblab . .
# collectstatic needs settings but no real secret or database: a throwaway key, never kept.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput --verbosity 0

USER 999
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
