# Trendwatch: `python -m bot run` as a non-root user, dependencies from requirements.lock.
#
# BASE is Debian 12 (bookworm) slim; its own python3 (3.11) runs the bot. Pin it by digest where you
# build (`docker buildx imagetools inspect debian:bookworm-slim`), e.g. BASE=debian:bookworm-slim@sha256:…
# tests/end_to_end/test_container.py builds this file with buildah from a bookworm made by debootstrap, as
# BASE=localhost/trendwatch-base:bookworm, because the machines that test it reach no image registry.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# python3-venv: the dependencies go in a venv, not into Debian's python (PEP 668).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin trendwatch \
    && mkdir /data && chown trendwatch /data

# Behind a TLS-intercepting proxy, pip needs its CA: mount the bundle at build time (buildah bud --volume
# /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro) and pass --build-arg PIP_CERT=/run/host-ca.crt.
# Unset, pip uses its own CA bundle. Nothing of it stays in the image.
ARG PIP_CERT

WORKDIR /app
# Dependencies first, pinned by the lock (runtime ones only: pyproject's list); a code change reuses this layer.
COPY requirements.lock pyproject.toml ./
RUN python3 -m venv /opt/venv \
    && python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
       > /tmp/direct.txt \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -c requirements.lock -r /tmp/direct.txt \
    && rm /tmp/direct.txt
COPY README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY store ./store
RUN /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps . \
    && rm -rf build ./*.egg-info

USER trendwatch
WORKDIR /data
# The SQLite file lives in /data (a volume); config from $TRENDWATCH_CONFIG or /data/trendwatch.toml.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
