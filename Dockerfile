# deploybot's own image: `deploybot serve` (Slack's HTTP mode) on port 8080, as a non-root user.
#
#   docker build --build-arg CONFIG=deploybot.yml -t deploybot .
#   docker run -p 8080:8080 -e SLACK_BOT_TOKEN=… -e SLACK_SIGNING_SECRET=… \
#       -e DEPLOYBOT_DATABASE_URL=postgresql+asyncpg://… deploybot
#
# Other entry points, same image (the entry point is the `deploybot` command):
#   docker run -it deploybot console          # Slack and Azure in the terminal, no accounts
#   docker run deploybot audit verify         # check the audit log (DEPLOYBOT_DATABASE_URL)
#   docker run deploybot --help
# See README, "Running on Azure".

ARG PYTHON=python:3.11-slim-bookworm

# -- build: the project and its dependencies into a virtual environment -----------------------
FROM ${PYTHON} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/deploybot
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY commands ./commands
COPY storage ./storage
RUN /opt/deploybot/bin/pip install .

# -- run: only the virtual environment, the config and an unprivileged user -------------------
FROM ${PYTHON}
# The team's deploybot.yml (the example until you pass --build-arg CONFIG=your-file).
ARG CONFIG=deploybot.example.yml
ENV PATH=/opt/deploybot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DEPLOYBOT_CONFIG=/etc/deploybot/deploybot.yml \
    DEPLOYBOT_LOG_FORMAT=json
RUN groupadd --system --gid 10001 deploybot \
    && useradd --system --uid 10001 --gid deploybot --home-dir /var/lib/deploybot \
        --create-home --shell /usr/sbin/nologin deploybot
COPY --from=build /opt/deploybot /opt/deploybot
COPY ${CONFIG} /etc/deploybot/deploybot.yml
# Without DEPLOYBOT_DATABASE_URL the audit log is ./deploybot.db here: fine for a try-out,
# lost with the container. Production points DEPLOYBOT_DATABASE_URL at PostgreSQL.
WORKDIR /var/lib/deploybot
USER deploybot:deploybot
EXPOSE 8080
# /healthz answers 200 while the process serves; the slim image has no curl, Python has urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["deploybot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
