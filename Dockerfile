# stockd - multi-stage image: build and unit-test on Debian 13, run on a slim Debian 13 as a non-root user.
# Debian 13 (trixie) packages librdkafka 2.8.0, the version stockd needs (CMakeLists.txt refuses older ones):
# nothing is built from source here, unlike on Debian 12 (scripts/bootstrap).
FROM debian:13 AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config clang-format \
      librdkafka-dev libsqlite3-dev libcjson-dev libcivetweb-dev libcmocka-dev libutf8proc-dev \
      python3 python3-jsonschema \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Unit tests only: the tests labelled kafka and chaos need brokers, which a build stage does not have;
# deploy_check needs the PyPI venv of scripts/pytools.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build \
 && ctest --test-dir /build --output-on-failure -LE "kafka|chaos" -E deploy_check

FROM debian:13-slim AS runtime
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      librdkafka1 libsqlite3-0 libcjson1 libcivetweb1 libutf8proc3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/stockd --create-home stockd
COPY --from=build /build/stockd /build/stockctl /usr/local/bin/
USER stockd
WORKDIR /var/lib/stockd
ENV STOCKD_DATA_DIR=/var/lib/stockd
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/stockd"]
