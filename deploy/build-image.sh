#!/usr/bin/env bash
# Builds the Scoreflow container image without a daemon and without pulling anything from a registry:
#   1. the image's class path with Maven (scoreflow-image: the CLI without Spark, Hadoop, Scala and the Kafka broker),
#   2. a Java runtime of just the modules the application needs (jlink),
#   3. a root file system made by hand: that runtime, the jars, the example model in /models, the glibc and
#      libstdc++ libraries the JVM and ONNX Runtime link against (copied from this machine, found with ldd),
#      /etc/passwd with user 10001, /etc/os-release and /etc/machine-id (ONNX Runtime reads both), /tmp; no shell,
#   4. an OCI image from it with umoci, in three layers (base + JRE, third-party jars, Scoreflow jars + model),
#      written as an OCI archive: deploy/target/scoreflow-oci.tar.
#
# The image is for serving. It runs: serve (HTTP, V2; --jobs on postgresql://, amqp:// or kafka:// queues), worker,
# subscribe, serve-rabbitmq, serve-kafka, and the Kafka clients produce, consume, stream, features and lag against a
# Kafka cluster (--bootstrap-servers), and plan. It leaves out Spark, Hadoop and Scala, and the Kafka broker (written in
# Scala), so batch, watch, demo, demo stream, broker and serve --jobs embedded are listed by `scoreflow --help` as not
# in this distribution and exit 2 with what to use instead: ./scoreflow from a source checkout, spark-submit with the
# scoreflow-spark-job jar, a Kafka cluster.
#
# Usage: deploy/build-image.sh            (then deploy/run-image.sh to start it and score through it)
# Environment: JAVA_HOME (the JDK whose jmods jlink uses; default: the java on PATH), SCOREFLOW_IMAGE_TAG (default
# 0.1.0), SCOREFLOW_MVN_OPTS (extra Maven flags, e.g. -o), SCOREFLOW_NO_BUILD=1 (use the jars already built).
# Needs: mvn, a JDK 17+ with jmods, umoci, skopeo, ldd, zip, unzip (Debian: apt-get install umoci skopeo zip unzip).
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
OUT=$ROOT/deploy/target
TAG=${SCOREFLOW_IMAGE_TAG:-0.1.0}
JDK=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
LIB=$ROOT/scoreflow-image/target/lib

need() { command -v "$1" >/dev/null || { echo "build-image: $1 is needed; $2" >&2; exit 1; }; }
need umoci "apt-get install umoci"
need skopeo "apt-get install skopeo"
need ldd "apt-get install libc-bin"
need unzip "apt-get install unzip"
need zip "apt-get install zip"
[[ -x $JDK/bin/jlink && -d $JDK/jmods ]] || { echo "build-image: $JDK has no jlink or jmods; set JAVA_HOME to a full JDK" >&2; exit 1; }

case $(uname -m) in
  x86_64) ORT_ARCH=linux-x64 ;;
  aarch64) ORT_ARCH=linux-aarch64 ;;
  *) echo "build-image: no ONNX Runtime native library for $(uname -m)" >&2; exit 1 ;;
esac

# 1. The image's class path: scoreflow-image/target/lib, the CLI's jars less what only Spark and the broker need.
if [[ -z ${SCOREFLOW_NO_BUILD:-} ]]; then
  echo "build-image: building the image's class path with Maven" >&2
  log=$(mktemp)
  rm -rf "$LIB" # a jar left from an earlier class path must not ride along
  (cd "$ROOT" && mvn -B -q -DskipTests ${SCOREFLOW_MVN_OPTS:-} -pl scoreflow-image -am package) >"$log" 2>&1 \
    || { cat "$log" >&2; rm -f "$log"; echo "build-image: Maven build failed" >&2; exit 1; }
  rm -f "$log"
fi
ls "$LIB"/scoreflow-cli-*.jar >/dev/null 2>&1 \
  || { echo "build-image: $LIB has no CLI jar; build without SCOREFLOW_NO_BUILD" >&2; exit 1; }
if ls "$LIB" | grep -q -e '^spark-' -e '^hadoop-' -e '^scala-' -e '^kafka_'; then
  echo "build-image: $LIB holds Spark, Hadoop, Scala or Kafka broker jars; the image leaves them out" >&2; exit 1
fi

rm -rf "$OUT/jre" "$OUT/layers" "$OUT/oci" "$OUT/scoreflow-oci.tar"
mkdir -p "$OUT/layers"

# 2. The Java runtime. Modules found with `jdeps -s --ignore-missing-deps` over every jar of the image's class path
# (java.base, java.logging, java.management, java.sql, java.naming, java.desktop for java.beans, java.xml,
# java.security.sasl and .jgss, java.net.http, jdk.unsupported, jdk.management, jdk.jfr, jdk.httpserver and, for
# log4j's optional parts, java.rmi, java.scripting, java.compiler, java.transaction.xa), plus jdk.crypto.ec (TLS with
# EC keys), jdk.security.auth and jdk.security.jgss (Kafka's SASL/Kerberos login module, loaded by name),
# java.instrument (a -javaagent), jdk.naming.dns, jdk.net and jdk.zipfs. The list was first made over the full class
# path (Spark, Hadoop): leaving those out removed no module that is worth a flag here.
MODULES=java.base,java.compiler,java.datatransfer,java.desktop,java.instrument,java.logging,java.management
MODULES+=,java.naming,java.net.http,java.rmi,java.scripting,java.security.jgss,java.security.sasl,java.sql
MODULES+=,java.transaction.xa,java.xml,jdk.crypto.ec,jdk.httpserver,jdk.jfr,jdk.management,jdk.naming.dns,jdk.net
MODULES+=,jdk.security.auth,jdk.security.jgss,jdk.unsupported,jdk.zipfs
echo "build-image: jlink ($MODULES)" >&2
"$JDK/bin/jlink" --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --compress=2 \
  --output "$OUT/jre"

# 3a. Layer 1: the base file system and the Java runtime.
BASE=$OUT/layers/base
mkdir -p "$BASE"/{etc,tmp,opt,app,models,proc,sys,dev}
chmod 1777 "$BASE/tmp"
cp -a "$OUT/jre" "$BASE/opt/java"
cat >"$BASE/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
scoreflow:x:10001:10001:Scoreflow:/tmp:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$BASE/etc/group" <<'EOF'
root:x:0:
scoreflow:x:10001:
nogroup:x:65534:
EOF
cat >"$BASE/etc/os-release" <<EOF
NAME="Scoreflow"
ID=scoreflow
VERSION_ID="$TAG"
PRETTY_NAME="Scoreflow $TAG (glibc from $(. /etc/os-release && echo "$PRETTY_NAME"))"
EOF
# A fixed id: the image has no init to make one, and ONNX Runtime only reads it.
echo 5c0ef10e5c0ef10e5c0ef10e5c0ef10e >"$BASE/etc/machine-id"
echo "hosts: files dns" >"$BASE/etc/nsswitch.conf"

# The native libraries: what the JRE, ONNX Runtime and Netty's epoll transport link against, from this machine.
NATIVE=$OUT/layers/native-probe
mkdir -p "$NATIVE"
ORT=$(ls "$LIB"/onnxruntime-*.jar | head -1)
(cd "$NATIVE" && unzip -q -o "$ORT" "ai/onnxruntime/native/$ORT_ARCH/*")
for j in "$LIB"/netty-transport-native-epoll-*-"$(uname -m | sed 's/aarch64/aarch_64/')".jar; do
  [[ -f $j ]] && (cd "$NATIVE" && unzip -q -o "$j" 'META-INF/native/*')
done
# AWT's display, font, sound and image libraries are left out (a headless server; java.desktop stays for java.beans):
# they would pull in X11, ALSA, FreeType and HarfBuzz.
find "$BASE/opt/java/lib" \( -name 'libawt_xawt.so' -o -name 'libfontmanager.so' -o -name 'libjsound.so' \
  -o -name 'libsplashscreen.so' -o -name 'libjawt.so' -o -name 'liblcms.so' -o -name 'libjavajpeg.so' \
  -o -name 'libmlib_image.so' \) -delete
mapfile -t OBJECTS < <(find "$BASE/opt/java" "$NATIVE" -type f \( -name '*.so' -o -path '*/bin/*' \))
mapfile -t LIBS < <(for o in "${OBJECTS[@]}"; do ldd "$o" 2>/dev/null || true; done \
  | grep -o '/[^ ]*\.so[^ ]*' | grep -v "^$OUT" | sort -u)
for lib in "${LIBS[@]}"; do
  mkdir -p "$BASE$(dirname "$lib")"
  cp -L "$lib" "$BASE$lib"
done
if ldd "${OBJECTS[@]}" 2>/dev/null | grep -q 'not found'; then
  ldd "${OBJECTS[@]}" | grep -B20 'not found' >&2
  echo "build-image: a native library is missing on this machine" >&2; exit 1
fi
echo "build-image: native libraries: ${LIBS[*]}" >&2
rm -rf "$NATIVE"

# 3b. Layer 2: third-party jars (change least often after the JRE).
mkdir -p "$OUT/layers/lib/app/lib"
find "$LIB" -name '*.jar' ! -name 'scoreflow-*' -exec cp {} "$OUT/layers/lib/app/lib/" \;
# Native libraries for other platforms out of the copies (ONNX Runtime's jar holds five platforms', RocksDB's
# fourteen): about 110 MB of the image. Only entries whose path names another OS or CPU go, so a library that does
# not name its platform stays.
if [[ $(uname -m) == x86_64 ]]; then
  FOREIGN='\.(dll|dylib|jnilib)$|aarch_?64|arm|ppc64|s390x|riscv64|mips|loongarch|musl|linux32|osx|darwin|mac|win|freebsd|aix|sunos|i386|x86/|x86_32'
  for j in "$OUT"/layers/lib/app/lib/*.jar; do
    mapfile -t drop < <(unzip -Z1 "$j" | grep -E '\.(so|dll|dylib|jnilib)$' | grep -iE "$FOREIGN" || true)
    if (( ${#drop[@]} )); then
      zip -q -d "$j" "${drop[@]}" >/dev/null
    fi
  done
fi

# 3c. Layer 3: Scoreflow's own jars, the JVM options and the example model.
APP=$OUT/layers/app
mkdir -p "$APP/app/scoreflow" "$APP/models"
cp "$LIB"/scoreflow-*.jar "$APP/app/scoreflow/"
cp -r "$ROOT/models/example" "$APP/models/example"
# An argument file keeps the command line short: ONNX Runtime crashes the JVM when it is longer than about 4 KB.
# No --add-opens: only Spark's driver needs them, and Spark is not here. JDK_JAVA_OPTIONS adds flags (e.g. -Xmx) at
# run time.
{
  echo "--enable-native-access=ALL-UNNAMED"
  echo "-XX:+IgnoreUnrecognizedVMOptions"
  echo "-XX:MaxRAMPercentage=50"
  echo "-XX:+ExitOnOutOfMemoryError"
  echo "-Djava.io.tmpdir=/tmp"
  echo "-Dscoreflow.home=/app"
  echo "-cp /app/scoreflow/*:/app/lib/*"
} >"$APP/app/jvm.options"
ln -s /models "$APP/app/models" # -Dscoreflow.home=/app: `scoreflow demo` finds models/example there

# 4. The OCI image.
echo "build-image: assembling the OCI image with umoci" >&2
IMG=$OUT/oci:$TAG
umoci init --layout "$OUT/oci"
umoci new --image "$IMG"
for layer in base lib app; do
  umoci insert --image "$IMG" --history.comment "scoreflow: $layer" "$OUT/layers/$layer" /
done
umoci config --image "$IMG" \
  --author "Scoreflow" \
  --config.user 10001:10001 \
  --config.workingdir /tmp \
  --config.env JAVA_HOME=/opt/java \
  --config.env PATH=/opt/java/bin \
  --config.env LANG=C.UTF-8 \
  --config.entrypoint /opt/java/bin/java \
  --config.entrypoint @/app/jvm.options \
  --config.entrypoint dev.scoreflow.cli.Main \
  --config.cmd serve --config.cmd --models --config.cmd /models \
  --config.cmd --host --config.cmd 0.0.0.0 --config.cmd --port --config.cmd 8080 \
  --config.exposedports 8080/tcp \
  --config.volume /models \
  --config.label org.opencontainers.image.title=scoreflow \
  --config.label org.opencontainers.image.version="$TAG" \
  --config.label org.opencontainers.image.description="Scoreflow: ONNX model scoring over HTTP (V2 protocol)" \
  --config.label dev.scoreflow.health.live=/v2/health/live \
  --config.label dev.scoreflow.health.ready=/v2/health/ready
umoci gc --layout "$OUT/oci"
# The OCI archive, named scoreflow:$TAG inside (what `podman load` calls localhost/scoreflow:$TAG).
skopeo copy -q "oci:$IMG" "oci-archive:$OUT/scoreflow-oci.tar:scoreflow:$TAG"
SIZES=$(for layer in base lib app; do printf '%s %s MiB, ' "$layer" "$(du -sm "$OUT/layers/$layer" | cut -f1)"; done)
rm -rf "$OUT/layers"

ARCHIVE_MB=$(( $(stat -c %s "$OUT/scoreflow-oci.tar") / 1024 / 1024 ))
echo "build-image: wrote $OUT/scoreflow-oci.tar ($ARCHIVE_MB MiB; layers unpacked: ${SIZES%, }), tag $TAG"
