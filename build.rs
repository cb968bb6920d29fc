//! Links Gatehouse's binaries with packed relative relocations (DT_RELR) where this machine's
//! linker and C library support them (binutils 2.38 or lld 15, and glibc 2.36 or later).
//!
//! The binary is position-independent, so that the loader can place it at a random address
//! (ASLR). Every pointer in its data then needs a relocation record, 24 bytes each in the
//! classic format: 3.3 MB for Gatehouse. The loader reads all of them at start, and those
//! pages stay resident for the life of the process. DT_RELR packs the same relocations into
//! about 30 KB; ASLR is unchanged. bench/README.md ("Scenario 8") has the figures.
//!
//! The flag is passed only when a small program linked with it runs correctly here. With an
//! older toolchain, a cross build or a non-GNU target, the binaries link as before. A binary
//! linked this way needs glibc 2.36 or later where it runs, too: to build on a new system for an
//! older one, set `GATEHOUSE_PLAIN_RELOCATIONS=1`.

use std::path::Path;
use std::process::Command;

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=GATEHOUSE_PLAIN_RELOCATIONS");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    let Some(out_dir) = std::env::var_os("OUT_DIR") else {
        return;
    };
    let plain = std::env::var_os("GATEHOUSE_PLAIN_RELOCATIONS").is_some_and(|v| v != "0");
    if plain || target != host || !target.ends_with("-linux-gnu") {
        return;
    }
    if packed_relocations_work(Path::new(&out_dir)) {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    } else {
        println!(
            "cargo:warning=linking without packed relative relocations (`{FLAG}` needs \
             binutils 2.38+ and glibc 2.36+): the binary works, its resident size is ~3 MB larger"
        );
    }
}

/// Links and runs a position-independent program whose one pointer needs a relative
/// relocation: if the loader ignored the packed table, the pointer would keep its link-time
/// value and the program would crash or exit non-zero.
fn packed_relocations_work(out_dir: &Path) -> bool {
    let source = out_dir.join("relr_probe.c");
    let program = out_dir.join("relr_probe");
    let text = "static const char *word = \"ok\";\n\
                int main(void) { return word[0] == 'o' && word[1] == 'k' ? 0 : 1; }\n";
    if std::fs::write(&source, text).is_err() {
        return false;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let linked = Command::new(cc)
        .args(["-fPIE", "-pie", "-O0", FLAG, "-o"])
        .arg(&program)
        .arg(&source)
        .output()
        .is_ok_and(|out| out.status.success());
    linked && Command::new(&program).status().is_ok_and(|s| s.success())
}
