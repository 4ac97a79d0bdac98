//! Rebuilds the binary when the console's build (`dist/`, from `trunk build --release`) changes,
//! so a release binary always carries the console built before it (see `api::embedded`).

fn main() {
    // A directory is scanned whole: a new build's files (their names carry hashes) are seen.
    println!("cargo:rerun-if-changed=../dist");
}
