//! Archives in and out of a container, in memory: the upload (the script and the input
//! file, root-owned and read-only to the runner) and the artifacts the script left in
//! `/out` (regular files only, capped in total size).

use crate::Artifact;

/// A file name safe to place in the container: one path component, no `..`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\\')
        || name.contains('\0')
    {
        return Err(format!("{name:?} is not a plain file name"));
    }
    Ok(())
}

/// The upload tar: `<script_name>` and, with an input, `input/<name>`.
pub fn upload(
    script_name: &str,
    script: &[u8],
    input: Option<(&str, &[u8])>,
) -> Result<Vec<u8>, String> {
    check_name(script_name)?;
    let mut b = tar::Builder::new(Vec::new());
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data)
            .map_err(|e| format!("cannot archive {path}: {e}"))
    };
    file(&mut b, script_name, script)?;
    if let Some((name, data)) = input {
        check_name(name)?;
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o755);
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mtime(0);
        b.append_data(&mut h, "input/", std::io::empty())
            .map_err(|e| format!("cannot archive input/: {e}"))?;
        file(&mut b, &format!("input/{name}"), data)?;
    }
    b.into_inner()
        .map_err(|e| format!("cannot finish the archive: {e}"))
}

/// Regular files of a `get-archive` tar of `/out` (paths relative to it), at most
/// `cap` bytes of file data in all; returns whether anything was left out. A tar cut
/// short (the download was capped) yields the files read before the cut.
pub fn artifacts(tar_bytes: &[u8], cap: u64) -> (Vec<Artifact>, bool) {
    let mut out = Vec::new();
    let mut left_out = false;
    let mut used = 0u64;
    let mut archive = tar::Archive::new(tar_bytes);
    let Ok(entries) = archive.entries() else {
        return (out, !tar_bytes.is_empty());
    };
    for entry in entries {
        let Ok(mut entry) = entry else {
            left_out = true;
            break;
        };
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let Ok(path) = entry.path() else { continue };
        // `out/a/b.txt` → `a/b.txt`.
        let rel: std::path::PathBuf = path.components().skip(1).collect();
        let rel = rel.to_string_lossy().into_owned();
        if rel.is_empty() {
            continue;
        }
        let size = entry.header().size().unwrap_or(0);
        if used + size > cap {
            left_out = true;
            continue;
        }
        let mut data = Vec::with_capacity(size as usize);
        if std::io::Read::read_to_end(&mut entry, &mut data).is_err() || data.len() as u64 != size {
            left_out = true;
            break;
        }
        used += size;
        out.push(Artifact {
            path: rel,
            size,
            data,
        });
    }
    (out, left_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_holds_script_and_input() {
        let t = upload("a.py", b"print(1)\n", Some(("data.csv", b"x,y\n"))).unwrap();
        let mut a = tar::Archive::new(&t[..]);
        let names: Vec<(String, u32)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("a.py".to_string(), 0o644),
                ("input/".into(), 0o755),
                ("input/data.csv".into(), 0o644)
            ]
        );
        assert!(upload("../x", b"", None).is_err());
        assert!(upload("a.py", b"", Some(("d/e", b""))).is_err());
    }

    fn out_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        b.append_data(&mut h, "out/", std::io::empty()).unwrap();
        for (p, d) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, format!("out/{p}"), *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn artifacts_are_relative_and_capped() {
        let t = out_tar(&[("a.txt", b"hello"), ("sub/b.bin", b"123456"), ("c", b"z")]);
        let (arts, cut) = artifacts(&t, 100);
        assert!(!cut);
        let paths: Vec<&str> = arts.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["a.txt", "sub/b.bin", "c"]);
        assert_eq!(arts[1].data, b"123456");
        let (arts, cut) = artifacts(&t, 6);
        assert!(cut);
        assert_eq!(
            arts.iter().map(|a| a.path.as_str()).collect::<Vec<_>>(),
            ["a.txt", "c"]
        );
        // A download cut in the middle keeps what came before.
        let (arts, cut) = artifacts(&t[..1700], 100);
        assert_eq!(arts.len(), 1);
        assert!(cut);
    }
}
