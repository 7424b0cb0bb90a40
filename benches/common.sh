# Shared by the benchmark scripts (sourced, not run).

# crate_source NAME VERSION SCRATCH: prints the directory of NAME's VERSION sources from
# crates.io, downloaded by cargo through a throwaway package in SCRATCH.
crate_source() {
  local name=$1 version=$2 scratch=$3
  mkdir -p "$scratch/src"
  printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n%s = "=%s"\n' \
    "$name" "$version" > "$scratch/Cargo.toml"
  : > "$scratch/src/lib.rs"
  cargo metadata --quiet --format-version 1 --manifest-path "$scratch/Cargo.toml" |
    python3 -c "import json,os,sys; m=json.load(sys.stdin); print(os.path.dirname([p for p in m['packages'] if p['name']=='$name'][0]['manifest_path']))"
}

# copy_crate NAME VERSION DEST SCRATCH: NAME's VERSION sources copied (writable) to DEST.
copy_crate() {
  local src
  src=$(crate_source "$1" "$2" "$4")
  rm -rf "${3:?}" && cp -r "$src" "$3" && chmod -R u+w "$3"
}

# fetch_workspace NAME VERSION DEST SCRATCH: NAME as a workspace of its own at DEST, its
# dependencies fetched.
fetch_workspace() {
  copy_crate "$@"
  printf '\n[workspace]\n' >> "$3/Cargo.toml"
  cargo fetch --quiet --manifest-path "$3/Cargo.toml"
}
