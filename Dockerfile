# ratchet's default trial image (used when neither --image nor --dockerfile is
# given). It is embedded in the ratchet executable and built once per ratchet
# version and Dockerfile content, tagged ratchet-trial:<version>-<hash>.
# Trials run as the uid:gid that owns the repository, with HOME set by ratchet.
FROM debian:bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1

# python3-pip: Debian marks the system Python as externally managed (PEP 668);
# PIP_BREAK_SYSTEM_PACKAGES lets --prepare-command `pip install` into it
# (the image is disposable). git: safe.directory for repos owned by another uid.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-pip python3-venv \
      git build-essential time ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'

WORKDIR /work
