# Multi-stage build: compile with the Rust toolchain, run as a non-root user on a minimal base.
# syntax=docker/dockerfile:1
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin engram-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/engram-operator /usr/local/bin/engram-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/engram-operator"]
CMD ["run", "--kube"]
