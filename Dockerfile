# Clockwork operator image: multi-stage, non-root, read-only-root friendly.
#
#   docker build -t clockwork/operator .
#
# Offline (no PyPI inside the build): put every wheel into build/wheelhouse first
# (scripts/docker/build-operator-image.sh does, with the host's pip) and pass a base
# image that is already local:  --build-arg BASE_IMAGE=clockwork/test-python
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS wheels
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# (pyproject.toml rides along so that the COPY has a source when there is no wheelhouse)
COPY pyproject.toml build/wheelhouse* /wheelhouse/
RUN set -eu; \
    if ls /wheelhouse/clockwork-*.whl >/dev/null 2>&1; then \
      mkdir -p /wheels && cp /wheelhouse/*.whl /wheels/; \
    else \
      python3 -m pip wheel --no-cache-dir --wheel-dir /wheels /src; \
    fi

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="clockwork" \
      org.opencontainers.image.description="Clockwork operator: infrastructure on edge machines as custom resources"
# ssh for the PyInfra worker's @ssh connector; git for GitRepo on @local
RUN set -eu; export DEBIAN_FRONTEND=noninteractive; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends openssh-client git ca-certificates; \
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then apt-get install -y -qq --no-install-recommends python3-venv; fi; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --gid 10001 clockwork; \
    useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin clockwork
COPY --from=wheels /wheels /wheels
RUN python3 -m venv /opt/clockwork && \
    /opt/clockwork/bin/pip install --no-cache-dir --no-index --find-links /wheels clockwork && \
    rm -rf /wheels && find /opt/clockwork -name '__pycache__' -prune -exec rm -rf {} +
ENV PATH=/opt/clockwork/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["clockwork"]
CMD ["operator"]
