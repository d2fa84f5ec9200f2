//! Writing a pipeline file again: berth stamps what it writes with the
//! SHA-256 of the text below the stamp, so it can tell its own unedited
//! file (replaced freely: regenerating is how it is upgraded) from one a
//! person edited (kept unless `--force`). `diff` shows what would change.

use berth_core::Digest;

const STAMP: &str = "# Written by `berth ci init`; run it again to regenerate. Edits are kept: berth then asks for --force.\n# berth-digest: ";

/// `body` with the stamp line above it.
pub fn stamp(body: &str) -> String {
    format!("{STAMP}{}\n{body}", Digest::of(body.as_bytes()).hex())
}

/// What to do with the file at the pipeline's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing there: write it.
    Create,
    /// The same text is there: leave it.
    Unchanged,
    /// berth's own unedited file, or `--force`: replace it.
    Replace,
    /// Someone edited it (or wrote it): keep it.
    KeepEdited,
}

/// Whether berth wrote `text` and nobody changed it since.
fn unedited(text: &str) -> bool {
    let Some(rest) = text.strip_prefix(STAMP) else { return false };
    let Some((digest, body)) = rest.split_once('\n') else { return false };
    Digest::of(body.as_bytes()).hex() == digest
}

pub fn decide(existing: Option<&str>, new: &str, force: bool) -> Decision {
    match existing {
        None => Decision::Create,
        Some(old) if old == new => Decision::Unchanged,
        Some(old) if force || unedited(old) => Decision::Replace,
        Some(_) => Decision::KeepEdited,
    }
}

/// A line diff from `old` to `new`: unchanged lines with two spaces, removed
/// ones with `- `, added ones with `+ ` (longest common subsequence; the
/// files are small).
pub fn diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berths_own_file_is_replaced_an_edited_one_kept() {
        let v1 = stamp("name: berth\n");
        let v2 = stamp("name: berth\non: push\n");
        assert_eq!(decide(None, &v1, false), Decision::Create);
        assert_eq!(decide(Some(&v1), &v1, false), Decision::Unchanged);
        assert_eq!(decide(Some(&v1), &v2, false), Decision::Replace, "an upgrade of an unedited file");
        let edited = v1.replace("berth", "ours");
        assert_eq!(decide(Some(&edited), &v2, false), Decision::KeepEdited);
        assert_eq!(decide(Some(&edited), &v2, true), Decision::Replace);
        assert_eq!(decide(Some("hand written\n"), &v2, false), Decision::KeepEdited);
    }

    #[test]
    fn a_diff_marks_what_goes_and_what_comes() {
        assert_eq!(diff("a\nb\nc\n", "a\nc\nd\n"), "  a\n- b\n  c\n+ d\n");
        assert_eq!(diff("", "x\n"), "+ x\n");
    }
}
