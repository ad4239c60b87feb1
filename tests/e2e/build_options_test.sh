#!/usr/bin/env bash
# berth build: the command-line and Dockerfile features the podman comparison
# (build_corpus/debian/python/cache) does not reach — contexts (stdin tar,
# -f from elsewhere, --build-context), outputs, --iidfile/--label/-q,
# --timestamp determinism, RUN --mount (bind, cache, tmpfs, secret),
# RUN --network, ADD of a local tar and of an unreachable URL, errors (with
# file:line and the store untouched), --squash-all, builder prune.
# Busybox only: no podman, no network.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
engine_setup bb
T=$(e2e_tmpdir)

mkctx() {  # mkctx DIR DOCKERFILE-TEXT
  mkdir -p "$1"
  printf '%s\n' "$2" > "$1/Dockerfile"
}

# --- contexts ---------------------------------------------------------------
mkctx "$T/c1" 'FROM bb
COPY a.txt /a.txt
CMD ["cat", "/a.txt"]'
echo "from the tar" > "$T/c1/a.txt"
tar -C "$T/c1" -cf "$T/c1.tar" .
check "context as a tar on stdin" sh -c "'$BERTH_BIN/berth' --root '$ROOT' build -q -t fromtar - < '$T/c1.tar' >/dev/null"
expect_eq "image from the stdin context runs" "from the tar" "$(b run --rm --network none fromtar)"

mkdir -p "$T/elsewhere" "$T/c2"
printf 'FROM bb\nCOPY b.txt /b.txt\n' > "$T/elsewhere/Other.dockerfile"
echo "bee" > "$T/c2/b.txt"
check "-f a Dockerfile outside the context" sh -c "'$BERTH_BIN/berth' --root '$ROOT' build -q -f '$T/elsewhere/Other.dockerfile' -t otherdf '$T/c2' >/dev/null"
expect_eq "-f image has the context file" "bee" "$(b run --rm --network none otherdf cat /b.txt)"
check "-f - reads the Dockerfile from stdin" sh -c "printf 'FROM bb\nCOPY b.txt /c.txt\n' | '$BERTH_BIN/berth' --root '$ROOT' build -q -f - -t stdindf '$T/c2' >/dev/null"
expect_eq "-f - image has the file" "bee" "$(b run --rm --network none stdindf cat /c.txt)"

mkdir -p "$T/extra"
echo "extra context" > "$T/extra/e.txt"
mkctx "$T/c3" 'FROM bb
COPY --from=assets e.txt /e.txt'
check "--build-context NAME=DIR for COPY --from=NAME" sh -c "'$BERTH_BIN/berth' --root '$ROOT' build -q --build-context assets='$T/extra' -t named '$T/c3' >/dev/null"
expect_eq "named context file copied" "extra context" "$(b run --rm --network none named cat /e.txt)"

# --- outputs, ids, labels ----------------------------------------------------
id=$(b build -q --iidfile "$T/iid" --label team=infra --label tier=2 -t labelled "$T/c1" 2>/dev/null)
expect_eq "-q prints only the image ID (sha256:...)" "1" "$(printf %s "$id" | grep -c '^sha256:[0-9a-f]\{64\}$')"
expect_eq "--iidfile holds the same ID" "$id" "$(cat "$T/iid")"
expect_eq "--label lands in the config" "infra 2" "$(b inspect --format '{{.Config.Labels.team}} {{.Config.Labels.tier}}' labelled)"
check "--output type=oci,dest=FILE" b build -q -t outoci -o "type=oci,dest=$T/out.oci.tar" "$T/c1"
check "the OCI archive holds index.json" sh -c "tar -tf '$T/out.oci.tar' | grep -qx 'index.json'"
check "--output type=docker loads into podman-free berth root" sh -c "'$BERTH_BIN/berth' --root '$ROOT' build -q -o type=docker,dest='$T/out.docker.tar' '$T/c1' >/dev/null && tar -tf '$T/out.docker.tar' | grep -qx manifest.json"
check "--output type=local,dest=DIR unpacks the rootfs" b build -q -o "type=local,dest=$T/outdir" "$T/c1"
expect_eq "local output has the copied file" "from the tar" "$(cat "$T/outdir/a.txt" 2>/dev/null)"

# --- determinism ------------------------------------------------------------
mkctx "$T/c4" 'FROM bb
COPY a.txt /a.txt
RUN echo generated > /g.txt'
echo "same" > "$T/c4/a.txt"
i1=$(b build -q --no-cache --timestamp 1700000000 "$T/c4" 2>/dev/null)
sleep 1.1
i2=$(b build -q --no-cache --timestamp 1700000000 "$T/c4" 2>/dev/null)
expect_eq "--timestamp: two --no-cache builds give the same image ID" "$i1" "$i2"
i3=$(SOURCE_DATE_EPOCH=1700000000 "$BERTH_BIN/berth" --root "$ROOT" build -q --no-cache "$T/c4" 2>/dev/null)
expect_eq "SOURCE_DATE_EPOCH is the same as --timestamp" "$i1" "$i3"
expect_eq "config created is the timestamp" "2023-11-14T22:13:20Z" "$(b inspect --format '{{.Created}}' "$i1")"

# --- RUN --mount and --network ----------------------------------------------
mkctx "$T/c5" 'FROM bb
RUN --mount=type=bind,source=data,target=/mnt/data cat /mnt/data/d.txt > /from-bind
RUN --mount=type=cache,target=/cache sh -c "echo x >> /cache/count; wc -l < /cache/count > /cache-count"
RUN --mount=type=tmpfs,target=/scratch sh -c "echo t > /scratch/t && test -f /scratch/t"
RUN --mount=type=secret,id=tok sh -c "cat /run/secrets/tok > /secret-len-src; wc -c < /run/secrets/tok > /secret-len; rm /secret-len-src"
RUN --network=none sh -c "ip link 2>/dev/null | grep -c -v lo > /links || true"'
mkdir -p "$T/c5/data"
echo "bound" > "$T/c5/data/d.txt"
printf 'hunter2' > "$T/secret"
check "RUN --mount bind/cache/tmpfs/secret build" b build -q -t mounts --secret "id=tok,src=$T/secret" "$T/c5"
expect_eq "bind mount from the context is readable" "bound" "$(b run --rm --network none mounts cat /from-bind)"
expect_eq "the secret was readable (7 bytes)" "7" "$(b run --rm --network none mounts cat /secret-len | tr -d ' ')"
check "the secret's mount point is not in the image" sh -c "! '$BERTH_BIN/berth' --root '$ROOT' run --rm --network none mounts test -e /run/secrets/tok"
check "the bind mount point is not in the image" sh -c "! '$BERTH_BIN/berth' --root '$ROOT' run --rm --network none mounts test -e /mnt/data"
check "the tmpfs content is not in the image" sh -c "! '$BERTH_BIN/berth' --root '$ROOT' run --rm --network none mounts test -e /scratch/t"
b build -q --no-cache -t mounts2 --secret "id=tok,src=$T/secret" "$T/c5" >/dev/null 2>&1
expect_eq "the cache mount survives builds (2 lines after 2 builds)" "2" "$(b run --rm --network none mounts2 cat /cache-count | tr -d ' ')"
err=$(printf 'FROM bb\nRUN --mount=type=secret,id=missing,required=true true\n' | "$BERTH_BIN/berth" --root "$ROOT" build -q -f - "$T/c5" 2>&1)
check "a required secret that was not given is an error naming it" sh -c "printf %s \"\$1\" | grep -q 'secret missing'" _ "$err"

# --- ADD --------------------------------------------------------------------
mkdir -p "$T/c6/tree/sub"
echo "in the tar" > "$T/c6/tree/sub/f"
tar -C "$T/c6/tree" -czf "$T/c6/bundle.tgz" .
rm -rf "$T/c6/tree"
mkctx "$T/c6" 'FROM bb
ADD bundle.tgz /opt/
COPY bundle.tgz /copied/'
check "ADD of a local .tgz" b build -q -t added "$T/c6"
expect_eq "ADD extracted the archive" "in the tar" "$(b run --rm --network none added cat /opt/sub/f)"
check "COPY of the same archive does not extract it" b run --rm --network none added test -f /copied/bundle.tgz
err=$(printf 'FROM bb\nADD http://127.0.0.1:9/nothing.txt /x\n' | "$BERTH_BIN/berth" --root "$ROOT" build -q -f - "$T/c6" 2>&1)
rc=$?
check "ADD of an unreachable URL fails" test "$rc" -ne 0
check "... with an error naming the URL" sh -c "printf %s \"\$1\" | grep -q 'http://127.0.0.1:9/nothing.txt'" _ "$err"

# --- errors leave the store as it was -------------------------------------------
before=$(b images --format json | jq -c '[.[] | {n: .Names, i: .Id}] | sort_by(.i)')
mkctx "$T/bad" 'FROM bb
RUN echo ok
RUN exit 3'
err=$(b build -t willfail "$T/bad" 2>&1)
rc=$?
check "a failing RUN fails the build" test "$rc" -ne 0
check "... the error names the Dockerfile line and the exit status" sh -c "printf %s \"\$1\" | grep -q 'Dockerfile:3' && printf %s \"\$1\" | grep -q 'exit status 3'" _ "$err"
expect_eq "... and no image was named" "$before" "$(b images --format json | jq -c '[.[] | {n: .Names, i: .Id}] | sort_by(.i)')"
expect_eq "... and no build container is left" "" "$(b ps -aq)"
mkctx "$T/bad2" 'FROM bb
RUN true
FROBNICATE the widget'
err=$(b build -t willfail "$T/bad2" 2>&1)
check "a malformed Dockerfile is one error line with file:line:column" sh -c "printf %s \"\$1\" | grep -qE 'Dockerfile:3:1: unknown instruction FROBNICATE'" _ "$err"
err=$(printf 'FROM nosuchimage\n' | "$BERTH_BIN/berth" --root "$ROOT" build -q -f - "$T/c1" 2>&1)
check "a missing base image says so" sh -c "printf %s \"\$1\" | grep -q 'nosuchimage'" _ "$err"
err=$(b build -q --target nosuchstage "$T/c1" 2>&1)
check "--target of a missing stage says so" sh -c "printf %s \"\$1\" | grep -q 'nosuchstage'" _ "$err"

# --- squash-all and flat ---------------------------------------------------
mkctx "$T/c7" 'FROM bb
RUN dd if=/dev/zero of=/big bs=1k count=2048 2>/dev/null && rm /big && echo kept > /kept'
b build -q -t layered7 "$T/c7" >/dev/null
b build -q --flat -t flat7 "$T/c7" >/dev/null
b build -q --squash-all -t squash7 "$T/c7" >/dev/null
base_layers=$(b inspect bb | jq '.[0].RootFS.Layers | length')
expect_eq "--flat adds exactly one layer to the base" "$((base_layers + 1))" "$(b inspect flat7 | jq '.[0].RootFS.Layers | length')"
expect_eq "--flat and layered images hold the same files" "$(b run --rm --network none layered7 ls /)" "$(b run --rm --network none flat7 ls /)"
expect_eq "--squash-all gives a single-layer image" "1" "$(b inspect squash7 | jq '.[0].RootFS.Layers | length')"
expect_eq "--squash-all image runs" "kept" "$(b run --rm --network none squash7 cat /kept)"

# --- builder prune ---------------------------------------------------------
check "builder prune -a" b builder prune -a -f
check "after prune, a rebuild runs its steps again" sh -c "'$BERTH_BIN/berth' --root '$ROOT' build -t afterprune '$T/c4' 2>&1 | grep -q 'done'"

e2e_finish
