#!/bin/bash
# etcd-deploy backup job: written to each host by `etcd-deploy backup schedule`, run every minute by the host's cron
# (/etc/cron.d/etcd-deploy-backup) under flock, so that runs never overlap. It runs on the host's shell: the etcd image
# is used only as `docker run --rm --entrypoint etcdctl|etcdutl IMAGE ...` and `docker exec CONTAINER etcdctl ...`,
# never with a shell inside (etcd's official images have none).
#
#   backup-job.sh cron            what cron runs: every slot of INTERVAL seconds within this minute, take a backup if
#                                 this host's member leads the cluster; then offsite copies still pending, retention
#   backup-job.sh once            one attempt now (leader only), then pending copies and retention
#   backup-job.sh prune [--dry-run]   the retention policy, now (prints `prune ID` or `keep ID` lines)
#   backup-job.sh offsite-list    one line per object under the prefix: KEY SIZE LASTMODIFIED
#   backup-job.sh offsite-get ID OUT   download ID's snapshot to OUT
#   backup-job.sh retain          stdin: `EPOCH ID` lines; stdout: the IDs the policy keeps
#
# Every attempt appends one JSON line to DIR/attempts.jsonl; a verified snapshot is DIR/snapshots/ID.db beside
# DIR/snapshots/ID.json (its metadata, one JSON line); DIR/offsite/ID.json marks a copy made offsite by this host;
# DIR/last-check says what this host's member was at the last slot (leader, follower, down and why), DIR/last-run
# when cron last started the job.
set -u
umask 077
export LC_ALL=C

CONF=${ETCD_DEPLOY_BACKUP_CONF:-/usr/local/lib/etcd-deploy/backup.conf}
# shellcheck source=/dev/null
. "$CONF" || { echo "backup-job: cannot read $CONF" >&2; exit 2; }

SNAP=$DIR/snapshots
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

now() { date -u +%s; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
compact() { date -u -d "@$1" +%Y%m%dT%H%M%SZ; }

# A JSON string from any text: backslashes and quotes escaped, control characters dropped, at most 400 bytes.
json_str() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | head -c 400 | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

record() { # record JSON-FIELDS: one attempt line, keeping the file to its last 2000 lines
  printf '{"time":"%s","node":%s,%s}\n' "$(iso "$(now)")" "$(json_str "$NODE")" "$1" >> "$DIR/attempts.jsonl"
  if [ "$(wc -l < "$DIR/attempts.jsonl")" -gt 2500 ]; then
    tail -n 2000 "$DIR/attempts.jsonl" > "$DIR/attempts.jsonl.tmp" && mv "$DIR/attempts.jsonl.tmp" "$DIR/attempts.jsonl"
  fi
}

fail() { # fail STAGE MESSAGE [ID]
  record "\"kind\":\"snapshot\",\"ok\":false,\"stage\":$(json_str "$1"),\"error\":$(json_str "$2")${3:+,\"id\":$(json_str "$3")}"
}

# The member's role, from its own endpoint status through the running container: leader, follower, or down (with why).
ROLE_WHY=
role() {
  local out id leader
  if ! out=$(docker exec -e ETCDCTL_API=3 "$CONTAINER" etcdctl --endpoints="$ENDPOINT" --dial-timeout=2s \
      --command-timeout=3s $ETCDCTL_TLS endpoint status -w json 2>&1); then
    ROLE_WHY=$(printf '%s' "$out" | tail -n 1); echo down; return
  fi
  id=$(printf '%s' "$out" | sed -n 's/.*"member_id":\([0-9]*\).*/\1/p' | head -n 1)
  leader=$(printf '%s' "$out" | sed -n 's/.*"leader":\([0-9]*\).*/\1/p' | head -n 1)
  if [ -z "$id" ] || [ -z "$leader" ]; then ROLE_WHY="endpoint status said: $(printf '%s' "$out" | head -c 200)"; echo down; return; fi
  if [ "$id" = "$leader" ]; then echo leader; else echo follower; fi
}

# The image the member runs (the inventory's may have moved on during a rolling upgrade).
member_image() { docker inspect -f '{{.Config.Image}}' "$CONTAINER" 2>/dev/null || echo "$IMAGE"; }

# `snapshot status -w json` of a file in DIR: etcdutl from 3.5, etcdctl on 3.4 (whose images have no etcdutl: exit 127).
snapshot_status() { # snapshot_status IMAGE NAME
  local out rc
  out=$(docker run --rm --network none -v "$SNAP:/backup:ro" --entrypoint etcdutl "$1" snapshot status "/backup/$2" -w json 2>&1)
  rc=$?
  if [ $rc -eq 127 ] || [ $rc -eq 126 ] || printf '%s' "$out" | grep -q 'executable file not found'; then
    out=$(docker run --rm --network none -e ETCDCTL_API=3 -v "$SNAP:/backup:ro" --entrypoint etcdctl "$1" snapshot status "/backup/$2" -w json 2>&1)
    rc=$?
  fi
  printf '%s' "$out"
  return $rc
}

num() { printf '%s' "$2" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n 1; }

# One backup: save through a container on the host's network, check it, hash it, then it counts.
take() {
  local t id tmp image out status sha size rev keys hash
  t=$(now); id="$(compact "$t")-$NODE"; tmp=".partial-$id.db"
  image=$(member_image)
  if ! out=$(docker run --rm --network host -e ETCDCTL_API=3 -v "$SNAP:/backup" $PKI_MOUNT --entrypoint etcdctl "$image" \
      --endpoints="$ENDPOINT" --dial-timeout=5s --command-timeout=15m $ETCDCTL_TLS snapshot save "/backup/$tmp" 2>&1); then
    rm -f "$SNAP/$tmp" "$SNAP/$tmp.part"
    fail save "$(printf '%s' "$out" | tail -n 2)" "$id"; return 1
  fi
  if ! status=$(snapshot_status "$image" "$tmp"); then
    rm -f "$SNAP/$tmp"; fail verify "$(printf '%s' "$status" | tail -n 2)" "$id"; return 1
  fi
  rev=$(num revision "$status"); keys=$(num totalKey "$status"); hash=$(num hash "$status")
  if [ -z "$rev" ] || [ -z "$keys" ]; then rm -f "$SNAP/$tmp"; fail verify "snapshot status printed: $status" "$id"; return 1; fi
  sha=$(sha256sum "$SNAP/$tmp" | cut -d' ' -f1); size=$(stat -c %s "$SNAP/$tmp")
  if [ -z "$sha" ] || [ "$size" -le 0 ]; then rm -f "$SNAP/$tmp"; fail verify "cannot hash $SNAP/$tmp" "$id"; return 1; fi
  mv "$SNAP/$tmp" "$SNAP/$id.db"
  printf '{"id":"%s","cluster":%s,"node":%s,"time":"%s","epoch":%s,"revision":%s,"totalKey":%s,"hash":%s,"size":%s,"sha256":"%s","image":%s}\n' \
    "$id" "$(json_str "$CLUSTER")" "$(json_str "$NODE")" "$(iso "$t")" "$t" "$rev" "$keys" "${hash:-0}" "$size" "$sha" "$(json_str "$image")" \
    > "$SNAP/.$id.json" && mv "$SNAP/.$id.json" "$SNAP/$id.json"
  record "\"kind\":\"snapshot\",\"ok\":true,\"id\":\"$id\",\"revision\":$rev,\"size\":$size,\"sha256\":\"$sha\""
}

attempt() { # one slot: a backup if this member leads
  local r
  r=$(role)
  printf '{"time":"%s","role":"%s","why":%s}\n' "$(iso "$(now)")" "$r" "$(json_str "$ROLE_WHY")" > "$DIR/last-check"
  [ "$r" = leader ] || return 0
  take
}

# --- offsite: S3-compatible, path-style URLs, signed by curl (--aws-sigv4); the credentials stay in a 0600 curl config

s3() { # s3 METHOD /KEY-or-?QUERY PAYLOAD_SHA256 [curl args...]: prints the body, fails on any HTTP error
  local method=$1 key=$2 psha=$3; shift 3
  curl -sS -f --connect-timeout 5 --max-time 3600 -K "$S3_CURL_CONFIG" --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    -H "x-amz-content-sha256: $psha" -X "$method" "$@" "$S3_ENDPOINT/$S3_BUCKET$key"
}

# Copy every local verified snapshot not yet offsite (a copy that failed is retried on every run: that is the catch-up).
offsite_push() {
  [ "$OFFSITE" = 1 ] || return 0
  local meta id sha out
  mkdir -p "$DIR/offsite"
  for meta in "$SNAP"/*.json; do
    [ -e "$meta" ] || continue
    id=$(basename "$meta" .json)
    [ -e "$SNAP/$id.db" ] || continue
    [ -e "$DIR/offsite/$id.json" ] && continue
    sha=$(sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p' "$meta")
    if ! out=$(s3 PUT "/$S3_PREFIX$id.db" "$sha" -T "$SNAP/$id.db" 2>&1) \
        || ! out=$(s3 PUT "/$S3_PREFIX$id.json" "$(sha256sum "$meta" | cut -d' ' -f1)" -T "$meta" 2>&1); then
      record "\"kind\":\"offsite\",\"ok\":false,\"id\":\"$id\",\"error\":$(json_str "$(printf '%s' "$out" | tail -n 1)")"
      return 1   # the endpoint is failing: the rest waits for the next run
    fi
    cp "$meta" "$DIR/offsite/$id.json"
    record "\"kind\":\"offsite\",\"ok\":true,\"id\":\"$id\""
  done
}

# --- retention: restic's rules. The newest KEEP_LAST; then for each of the newest KEEP_HOURLY hours (UTC) that hold a
# snapshot, the newest of that hour; the same for KEEP_DAILY days and KEEP_WEEKLY ISO weeks (Monday to Sunday, UTC).
retain() {
  sort -k1,1nr -k2,2r | awk -v last="$KEEP_LAST" -v hourly="$KEEP_HOURLY" -v daily="$KEEP_DAILY" -v weekly="$KEEP_WEEKLY" '
    { n++; t[n] = $1; id[n] = $2 }
    END {
      for (i = 1; i <= n; i++) {
        keep = (i <= last)
        b = int(t[i] / 3600);               if (hours < hourly && !(b in hb)) { hb[b] = 1; hours++; keep = 1 }
        b = int(t[i] / 86400);              if (days < daily && !(b in db)) { db[b] = 1; days++; keep = 1 }
        b = int((int(t[i] / 86400) + 3) / 7); if (weeks < weekly && !(b in wb)) { wb[b] = 1; weeks++; keep = 1 }
        if (keep) print id[i]
      }
    }'
}

# `EPOCH ID` for every metadata file in a directory
listed() { # listed DIR
  local meta
  for meta in "$1"/*.json; do
    [ -e "$meta" ] || continue
    printf '%s %s\n' "$(sed -n 's/.*"epoch":\([0-9]*\).*/\1/p' "$meta")" "$(basename "$meta" .json)"
  done
}

prune() { # prune [--dry-run]: local snapshots, then this host's offsite copies
  local dry=${1:-} keep id
  keep=$(listed "$SNAP" | retain)
  for id in $(listed "$SNAP" | cut -d' ' -f2); do
    if printf '%s\n' "$keep" | grep -qx "$id"; then echo "keep $id"; continue; fi
    echo "prune $id"
    [ "$dry" = --dry-run ] || rm -f "$SNAP/$id.db" "$SNAP/$id.json"
  done
  [ "$OFFSITE" = 1 ] && [ -d "$DIR/offsite" ] || return 0
  keep=$(listed "$DIR/offsite" | retain)
  for id in $(listed "$DIR/offsite" | cut -d' ' -f2); do
    if printf '%s\n' "$keep" | grep -qx "$id"; then echo "keep offsite $id"; continue; fi
    echo "prune offsite $id"
    [ "$dry" = --dry-run ] && continue
    if s3 DELETE "/$S3_PREFIX$id.db" "$EMPTY_SHA256" > /dev/null 2>&1 && s3 DELETE "/$S3_PREFIX$id.json" "$EMPTY_SHA256" > /dev/null 2>&1; then
      rm -f "$DIR/offsite/$id.json"
    else
      record "\"kind\":\"offsite-prune\",\"ok\":false,\"id\":\"$id\",\"error\":\"delete refused or endpoint unreachable\""
    fi
  done
}

after() { offsite_push; prune > /dev/null; }

case ${1:-} in
  cron)
    # Slots of INTERVAL seconds since the epoch: one backup per slot for the cluster (the leader's host takes it).
    # Within this minute, every slot that starts; for INTERVAL >= 60 at most one, when a new slot began.
    start=$(now); mkdir -p "$SNAP"
    iso "$start" > "$DIR/last-run"   # when cron last started the job: a stopped cron shows here
    last=$(cat "$DIR/last-slot" 2>/dev/null || echo 0)
    while :; do
      t=$(now); slot=$((t / INTERVAL))
      if [ "$slot" != "$last" ]; then
        last=$slot; echo "$slot" > "$DIR/last-slot"
        attempt; after
      fi
      next=$(( (slot + 1) * INTERVAL ))
      [ "$next" -lt $((start + 55)) ] || break
      sleep $((next - $(now))) 2>/dev/null || sleep 1
    done
    ;;
  once) mkdir -p "$SNAP"; attempt; after ;;
  prune) prune "${2:-}" ;;
  retain) retain ;;
  offsite-list)
    [ "$OFFSITE" = 1 ] || { echo "no offsite storage is configured" >&2; exit 2; }
    xml=$(s3 GET "?list-type=2&prefix=$S3_PREFIX" "$EMPTY_SHA256") || exit 1
    printf '%s\n' "$xml" | sed 's/<Contents>/\n/g' | sed -n \
      's/.*<Key>\([^<]*\)<\/Key>.*<LastModified>\([^<]*\)<\/LastModified>.*<Size>\([0-9]*\)<\/Size>.*/\1 \3 \2/p'
    ;;
  offsite-meta) # offsite-meta ID: the metadata object
    s3 GET "/$S3_PREFIX$2.json" "$EMPTY_SHA256" ;;
  offsite-get) # offsite-get ID OUT
    s3 GET "/$S3_PREFIX$2.db" "$EMPTY_SHA256" -o "$3" ;;
  *) echo "usage: backup-job.sh cron|once|prune [--dry-run]|retain|offsite-list|offsite-meta ID|offsite-get ID OUT" >&2; exit 2 ;;
esac
