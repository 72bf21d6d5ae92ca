# Helpers of scripts/demo (sourced; bash). Each check inspects the real
# artifact (git remotes, the registry, podman, HTTP) and dies with the reason.

say() { printf '[demo] %s\n' "$*"; }
die() {
  printf '[demo] FAILED: %s\n' "$*" >&2
  exit 1
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# A TCP port nobody listens on now (the kernel picks it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Cross-compiles the sample app in $1 for linux/amd64 and linux/arm64
# (static, CGO off) into $1/dist/linux-<arch>/app.
build_app() {
  local dir=$1 arch
  for arch in amd64 arm64; do
    (cd "$dir" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -ldflags "-s -w" -o "dist/linux-$arch/app" .) ||
      die "go build of the sample app for linux/$arch failed"
  done
}

# Writes the app's config (COPYed into the image): status and version.
write_app_config() {
  jq -n --arg status "$2" --arg version "$3" '{status: $status, version: $version, message: "hello"}' >"$1/config/config.json"
}

# Commits everything in $1 with message $2 and pushes main; prints the SHA.
commit_and_push() {
  git -C "$1" add -A
  git -C "$1" commit -q -m "$2"
  git -C "$1" push -q origin main
  git -C "$1" rev-parse HEAD
}

# Delivers a signed GitHub push webhook for the commits $2..$3 (message $4)
# of demo/app to the webhook at $1; prints the run id.
send_push() {
  local url=$1 before=$2 after=$3 msg=$4 answer
  jq -n --arg before "$before" --arg after "$after" --arg msg "$msg" \
    '{ref: "refs/heads/main", before: $before, after: $after, created: false, deleted: false, forced: false,
      repository: {full_name: "demo/app", name: "app", clone_url: "https://github.com/demo/app.git"},
      pusher: {name: "dev"}, sender: {login: "dev"},
      head_commit: {id: $after, message: $msg, timestamp: (now | todate)},
      commits: [{id: $after, message: $msg}]}' >"$DEMO/push-${after:0:7}.json"
  answer=$("$BIN/conveyor" webhook send "$url" "$DEMO/push-${after:0:7}.json" --event push) ||
    die "webhook delivery failed: $answer"
  [[ ${answer%% *} == 202 ]] || die "the webhook answered $answer"
  sed 's/^[0-9]* //' <<<"$answer" | jq -r .run_id
}

# Field of a run summary (demo_watch.py run --summary).
summary() { jq -r "$2" "$1"; }

# The tag $2 exists in the bare remote $1 and points (through the release
# commit) at a child of $3; prints the release commit.
check_tag() {
  local commit
  commit=$(git --git-dir "$1" rev-parse -q --verify "refs/tags/$2^{commit}") || die "tag $2 is not in $1"
  [[ $(git --git-dir "$1" rev-parse "$commit^") == "$3" ]] || die "tag $2 is not on the release commit of $3"
  git --git-dir "$1" show -s --format=%s "$commit" | grep -q "^chore(release): ${2#v}" || die "tag $2: unexpected release commit"
  echo "$commit"
}

# The registry holds, under repository $1 and tag $2, an image index with
# digest $3 listing linux/amd64 and linux/arm64.
check_index() {
  local raw digest platforms
  raw=$(skopeo inspect --raw --tls-verify=false "docker://$1:$2") || die "skopeo inspect $1:$2 failed"
  digest=sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)
  [[ $digest == "$3" ]] || die "$1:$2 is $digest, the build reported $3"
  platforms=$(jq -r '[.manifests[].platform | "\(.os)/\(.architecture)"] | sort | join(",")' <<<"$raw")
  [[ $platforms == "linux/amd64,linux/arm64" ]] || die "$1:$2 lists platforms $platforms"
  jq -e '.mediaType == "application/vnd.oci.image.index.v1+json"' <<<"$raw" >/dev/null || die "$1:$2 is not an OCI index"
}

# The GitOps remote $1's main is commit $2 and its values file $3 sets
# image.tag to $4 and image.digest to $5, with only those lines changed.
check_values() {
  local head text changed
  head=$(git --git-dir "$1" rev-parse main)
  [[ $head == "$2" ]] || die "GitOps main is $head, expected $2"
  text=$(git --git-dir "$1" show "main:$3")
  grep -qE "^  tag: \"$4\"" <<<"$text" || die "GitOps $3 does not set image.tag \"$4\""
  grep -qE "^  digest: \"?$5\"?" <<<"$text" || die "GitOps $3 does not set image.digest $5"
  changed=$(git --git-dir "$1" diff --numstat main~1 main -- "$3" | cut -f1)
  [[ $changed == 2 ]] || die "GitOps commit $2 changed $changed lines of $3, expected 2"
  grep -q '^# ' <<<"$text" || die "GitOps $3 lost its comments"
}

# The compose project $1 runs exactly one container of service app, running
# and healthy, with image $2; prints the container id.
check_container() {
  local ids id image state
  ids=$(podman ps -q --no-trunc --filter "label=com.docker.compose.project=$1" --filter "label=com.docker.compose.service=app")
  [[ $(wc -w <<<"$ids") == 1 ]] || die "compose project $1 runs $(wc -w <<<"$ids") app containers, expected 1"
  id=$ids
  image=$(podman inspect --format '{{.ImageName}}' "$id")
  state=$(podman inspect --format '{{.State.Status}}' "$id")
  [[ $image == "$2" ]] || die "the container of $1 runs $image, expected $2"
  [[ $state == running ]] || die "the container of $1 is $state"
  # the compose file's exec-form check, as the deployer runs it (no shell in the image)
  podman exec "$id" /app -healthcheck >/dev/null 2>&1 || die "the container of $1 fails its health check"
  echo "${id:0:12}"
}

# GET $1 answers 200 with JSON whose .status is $2 and .version is $3.
check_app() {
  local body
  body=$(curl -sf --max-time 5 "$1") || die "GET $1 failed"
  jq -e --arg s "$2" --arg v "$3" '.status == $s and .version == $v' <<<"$body" >/dev/null ||
    die "GET $1 answered $body, expected status $2 and version $3"
  echo "$body"
}

# The run summary $1 shows every stage in $2 (space-separated) and tests that
# passed with at least one test case.
check_stages() {
  local stage
  for stage in $2; do
    jq -e --arg s "$stage" '.stages | has($s)' "$1" >/dev/null || die "$(basename "$1" .json): no $stage step observed"
  done
  jq -e '.stages.tests.facts | test("^passed: [1-9][0-9]* tests, 0 failures")' "$1" >/dev/null ||
    die "$(basename "$1" .json): tests did not pass: $(jq -r .stages.tests.facts "$1")"
}
