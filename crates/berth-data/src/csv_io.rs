//! CSV in and out. Reading makes two passes when types are inferred (one to
//! decide each column's type, one to parse), so memory holds only the typed
//! columns, never the text.
//!
//! Nulls: an empty cell, `NA`, `N/A`, `null`, `NULL` or `None`. `NaN`, `inf`
//! and `-inf` are float values, not nulls. Inference picks, per column, the
//! first type every non-null cell fits: bool (`true`/`false` in any case),
//! int, float, timestamp (`YYYY-MM-DD[ HH:MM:SS]`, `T` and a trailing `Z`
//! allowed), else text.

use std::path::Path;

use crate::calendar::{civil_from_days, days_from_civil};
use crate::column::{Column, ColumnData, Dictionary};
use crate::schema::{ColumnType, Schema};
use crate::{DataError, Result, Table};

fn is_null(s: &str) -> bool {
    matches!(s, "" | "NA" | "N/A" | "null" | "NULL" | "None")
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "inf" | "Inf" | "Infinity" | "+inf" => Some(f64::INFINITY),
        "-inf" | "-Inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|_| s.bytes().any(|b| b.is_ascii_digit())),
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS[.frac][Z]` as UTC seconds.
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(secs);
    }
    if rest.len() < 9 || !(rest[0] == b' ' || rest[0] == b'T') || rest[3] != b':' || rest[6] != b':' {
        return None;
    }
    let (h, mi, se) = (digits(&rest[1..3])?, digits(&rest[4..6])?, digits(&rest[7..9])?);
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut tail = &rest[9..];
    if let Some(frac) = tail.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        tail = &frac[n..];
    }
    if !(tail.is_empty() || tail == b"Z") {
        return None;
    }
    secs += h * 3600 + mi * 60 + se;
    Some(secs)
}

pub(crate) fn format_timestamp(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[derive(Clone, Copy)]
struct Candidates {
    bool_: bool,
    int: bool,
    float: bool,
    ts: bool,
}

impl Candidates {
    fn all() -> Self {
        Candidates { bool_: true, int: true, float: true, ts: true }
    }

    fn see(&mut self, s: &str) {
        if self.bool_ && parse_bool(s).is_none() {
            self.bool_ = false;
        }
        if self.int && s.parse::<i64>().is_err() {
            self.int = false;
        }
        if self.float && parse_float(s).is_none() {
            self.float = false;
        }
        if self.ts && parse_timestamp(s).is_none() {
            self.ts = false;
        }
    }

    fn pick(self, seen_any: bool) -> ColumnType {
        match self {
            _ if !seen_any => ColumnType::Float,
            Candidates { bool_: true, .. } => ColumnType::Bool,
            Candidates { int: true, .. } => ColumnType::Int,
            Candidates { float: true, .. } => ColumnType::Float,
            Candidates { ts: true, .. } => ColumnType::Timestamp,
            _ => ColumnType::Str,
        }
    }
}

fn reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    let f = std::fs::File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let empty = f.metadata().map(|m| m.len() == 0).unwrap_or(false);
    if empty {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    Ok(csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(f))
}

fn csv_err(path: &Path, e: csv::Error) -> DataError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} field(s), the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    DataError::Csv { path: path.to_path_buf(), line, message }
}

enum Builder {
    /// An inferred column that has seen only nulls so far (how many).
    Pending(usize),
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Ts(Vec<i64>),
    Str(Dictionary),
    /// An inferred column whose type changed in a way its values so far
    /// cannot follow (say, numbers then text): it is read again on its own.
    Redo,
}

impl Builder {
    fn of(ty: ColumnType, nulls: usize) -> Builder {
        match ty {
            ColumnType::Float => Builder::Float(vec![0.0; nulls]),
            ColumnType::Int => Builder::Int(vec![0; nulls]),
            ColumnType::Bool => Builder::Bool(vec![false; nulls]),
            ColumnType::Timestamp => Builder::Ts(vec![0; nulls]),
            ColumnType::Str => {
                let mut d = Dictionary::default();
                (0..nulls).for_each(|_| d.push(""));
                Builder::Str(d)
            }
        }
    }

    /// Appends a non-null value; false when it does not parse as this type.
    fn push(&mut self, s: &str) -> bool {
        match self {
            Builder::Float(v) => parse_float(s).map(|x| v.push(x)).is_some(),
            Builder::Int(v) => s.parse().map(|x| v.push(x)).is_ok(),
            Builder::Bool(v) => parse_bool(s).map(|x| v.push(x)).is_some(),
            Builder::Ts(v) => parse_timestamp(s).map(|x| v.push(x)).is_some(),
            Builder::Str(d) => {
                d.push(s);
                true
            }
            Builder::Pending(_) | Builder::Redo => unreachable!("callers handle these states"),
        }
    }

    fn push_null(&mut self) {
        match self {
            Builder::Pending(n) => *n += 1,
            Builder::Float(v) => v.push(0.0),
            Builder::Int(v) | Builder::Ts(v) => v.push(0),
            Builder::Bool(v) => v.push(false),
            Builder::Str(d) => d.push(""),
            Builder::Redo => {}
        }
    }

    /// This chunk's column followed by the next chunk's, as one pass over
    /// both would have built it; `Redo` where that pass would not have
    /// ended with a single type the two agree on.
    fn join(self, next: Builder) -> Builder {
        use Builder::*;
        let ty = |b: &Builder| match b {
            Float(_) => Some(ColumnType::Float),
            Int(_) => Some(ColumnType::Int),
            Bool(_) => Some(ColumnType::Bool),
            Ts(_) => Some(ColumnType::Timestamp),
            Str(_) => Some(ColumnType::Str),
            Pending(_) | Redo => None,
        };
        match (self, next) {
            (Redo, _) | (_, Redo) => Redo,
            (Pending(a), Pending(b)) => Pending(a + b),
            (Pending(a), b) => Builder::of(ty(&b).expect("typed"), a).join(b),
            (mut a, Pending(b)) => {
                (0..b).for_each(|_| a.push_null());
                a
            }
            (Float(mut a), Float(b)) => {
                a.extend(b);
                Float(a)
            }
            (Int(mut a), Int(b)) => {
                a.extend(b);
                Int(a)
            }
            // An integer column widens to float when a float comes.
            (Int(a), Float(b)) => Float(a.into_iter().map(|x| x as f64).chain(b).collect()),
            (Float(mut a), Int(b)) => {
                a.extend(b.into_iter().map(|x| x as f64));
                Float(a)
            }
            (Bool(mut a), Bool(b)) => {
                a.extend(b);
                Bool(a)
            }
            (Ts(mut a), Ts(b)) => {
                a.extend(b);
                Ts(a)
            }
            (Str(mut a), Str(b)) => {
                a.append(b);
                Str(a)
            }
            _ => Redo,
        }
    }

    fn finish(self) -> ColumnData {
        match self {
            Builder::Pending(n) => ColumnData::Float(vec![0.0; n]),
            Builder::Float(v) => ColumnData::Float(v),
            Builder::Int(v) => ColumnData::Int(v),
            Builder::Bool(v) => ColumnData::Bool(v),
            Builder::Ts(v) => ColumnData::Timestamp(v),
            Builder::Str(d) => d.finish(),
            Builder::Redo => unreachable!("redone before finishing"),
        }
    }
}

fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Float => "float",
        ColumnType::Int => "integer",
        ColumnType::Bool => "bool",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Str => "text",
    }
}

/// One pass over the file. Columns with a declared type must parse as it;
/// the others (`None`) infer their type as they go: a column starts as the
/// narrowest type of its first value, widens from integer to float in place,
/// and is marked for a second look on any other change.
fn read_pass(path: &Path, idx: &[usize], names: &[String], types: &[Option<ColumnType>]) -> Result<Pass> {
    let mut rdr = reader(path)?;
    rdr.headers().map_err(|e| csv_err(path, e))?;
    read_records(rdr, path, 0, None, idx, names, types)
}

/// The records of `rdr` into builders; `line_offset` is added to the line
/// numbers in errors (for a chunk that starts after the file's first line).
fn read_records<R: std::io::Read>(
    mut rdr: csv::Reader<R>,
    path: &Path,
    line_offset: u64,
    width: Option<usize>,
    idx: &[usize],
    names: &[String],
    types: &[Option<ColumnType>],
) -> Result<Pass> {
    let csv_err = |e: csv::Error| match csv_err(path, e) {
        DataError::Csv { path, line, message } => DataError::Csv { path, line: line + line_offset, message },
        other => other,
    };
    let mut builders: Vec<Builder> =
        types.iter().map(|t| t.map_or(Builder::Pending(0), |t| Builder::of(t, 0))).collect();
    let mut valid: Vec<Vec<bool>> = vec![Vec::new(); idx.len()];
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(csv_err)? {
        // A chunk's reader has not seen the header: hold it to the header's width.
        if let Some(w) = width
            && rec.len() != w
        {
            return Err(DataError::Csv {
                path: path.to_path_buf(),
                line: rec.position().map(|p| p.line()).unwrap_or(0) + line_offset,
                message: format!("has {} field(s), the header has {w}", rec.len()),
            });
        }
        for (k, &i) in idx.iter().enumerate() {
            let s = &rec[i];
            let null = is_null(s);
            valid[k].push(!null);
            let b = &mut builders[k];
            if null {
                b.push_null();
                continue;
            }
            if let Builder::Pending(n) = b {
                let mut c = Candidates::all();
                c.see(s);
                *b = Builder::of(c.pick(true), *n);
            }
            if matches!(b, Builder::Redo) || b.push(s) {
                continue;
            }
            match (types[k], &*b) {
                (Some(ty), _) => {
                    let line = rec.position().map(|p| p.line()).unwrap_or(0) + line_offset;
                    return Err(DataError::Csv {
                        path: path.to_path_buf(),
                        line,
                        message: format!("column {:?}: {s:?} is not a {}", names[k], type_name(ty)),
                    });
                }
                (None, Builder::Int(v)) if parse_float(s).is_some() => {
                    let mut f: Vec<f64> = v.iter().map(|x| *x as f64).collect();
                    f.push(parse_float(s).expect("checked"));
                    *b = Builder::Float(f);
                }
                (None, _) => *b = Builder::Redo,
            }
        }
    }
    Ok((builders, valid))
}

/// Each column's builder and its validity (false for a null), per pass.
type Pass = (Vec<Builder>, Vec<Vec<bool>>);

/// Files at least this large are parsed in parallel chunks.
const PARALLEL_BYTES: u64 = 4 << 20;

/// The same result as [`read_pass`], parsed on every core: the data is cut
/// at line ends into one chunk per core and the chunks' columns are joined.
/// `None` when that cannot be done safely — a small file, one core, or any
/// quote character (a quoted field may hold a line break, so a cut could
/// fall inside it) — and the caller reads in one pass.
fn parallel_pass(
    path: &Path,
    width: usize,
    idx: &[usize],
    names: &[String],
    types: &[Option<ColumnType>],
) -> Result<Option<Pass>> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let size = std::fs::metadata(path).map_err(io)?.len();
    let threads = crate::cores().min(8) as u64;
    if size < PARALLEL_BYTES || threads < 2 {
        return Ok(None);
    }
    // One read of the file: no quotes anywhere; the first line end after
    // the header and after each target offset is a cut; the lines before
    // each cut are counted for error messages.
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut buf = vec![0u8; 1 << 20];
    let targets: Vec<u64> = (0..threads).map(|k| size * k / threads).collect();
    let (mut pos, mut lines) = (0u64, 0u64);
    let (mut cuts, mut offsets): (Vec<u64>, Vec<u64>) = (Vec::new(), Vec::new());
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if chunk.contains(&b'"') {
            return Ok(None);
        }
        let mut from = 0;
        while cuts.len() < targets.len() {
            let want = targets[cuts.len()].max(cuts.last().copied().unwrap_or(0));
            let at = (want.saturating_sub(pos) as usize).max(from);
            if at >= n {
                break;
            }
            match chunk[at..].iter().position(|b| *b == b'\n') {
                Some(i) => {
                    let cut = at + i + 1;
                    lines += chunk[from..cut].iter().filter(|b| **b == b'\n').count() as u64;
                    from = cut;
                    cuts.push(pos + cut as u64);
                    offsets.push(lines);
                }
                None => break,
            }
        }
        lines += chunk[from..].iter().filter(|b| **b == b'\n').count() as u64;
        pos += n as u64;
    }
    cuts.push(size);
    let keep: Vec<usize> = (0..cuts.len() - 1).filter(|k| cuts[*k] < cuts[k + 1]).collect();
    let offsets: Vec<u64> = keep.iter().map(|k| offsets[*k]).collect();
    let cuts: Vec<u64> = keep.iter().map(|k| cuts[*k]).chain([size]).collect();
    if cuts.len() < 3 {
        return Ok(None);
    }
    let parts: Vec<Result<Pass>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .windows(2)
            .zip(&offsets)
            .map(|(w, offset)| {
                let (start, end, offset) = (w[0], w[1], *offset);
                scope.spawn(move || {
                    let mut f = std::fs::File::open(path).map_err(io)?;
                    f.seek(SeekFrom::Start(start)).map_err(io)?;
                    let rdr =
                        csv::ReaderBuilder::new().has_headers(false).flexible(false).from_reader(f.take(end - start));
                    read_records(rdr, path, offset, Some(width), idx, names, types)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a CSV chunk parser panicked")).collect()
    });
    let mut joined: Option<Pass> = None;
    for part in parts {
        let (builders, valid) = part?;
        joined = Some(match joined {
            None => (builders, valid),
            Some((acc, mut acc_valid)) => {
                let merged = acc.into_iter().zip(builders).map(|(a, b)| a.join(b)).collect();
                acc_valid.iter_mut().zip(valid).for_each(|(a, v)| a.extend(v));
                (merged, acc_valid)
            }
        });
    }
    Ok(joined)
}

/// The type every non-null value of each listed column fits (a full pass).
fn infer_types(path: &Path, idx: &[usize]) -> Result<Vec<ColumnType>> {
    let mut rdr = reader(path)?;
    rdr.headers().map_err(|e| csv_err(path, e))?;
    let mut cands = vec![Candidates::all(); idx.len()];
    let mut seen = vec![false; idx.len()];
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| csv_err(path, e))? {
        for (k, &i) in idx.iter().enumerate() {
            let s = &rec[i];
            if !is_null(s) {
                seen[k] = true;
                cands[k].see(s);
            }
        }
    }
    Ok(cands.iter().zip(&seen).map(|(c, s)| c.pick(*s)).collect())
}

/// Reads a CSV file. With a schema, its columns are parsed as declared (and
/// must exist); otherwise types are inferred. `columns` limits what is kept.
pub fn read_csv(path: &Path, schema: Option<&Schema>, columns: Option<&[String]>) -> Result<Table> {
    let mut rdr = reader(path)?;
    let headers: Vec<String> = rdr.headers().map_err(|e| csv_err(path, e))?.iter().map(str::to_string).collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    let wanted: Vec<String> = match columns {
        Some(c) => c.to_vec(),
        None => headers.clone(),
    };
    let missing: Vec<String> = wanted.iter().filter(|w| !headers.contains(w)).cloned().collect();
    if !missing.is_empty() {
        return Err(DataError::MissingColumns { missing, available: headers });
    }
    let idx: Vec<usize> = wanted.iter().map(|w| headers.iter().position(|h| h == w).expect("checked")).collect();
    let types: Vec<Option<ColumnType>> = match schema {
        Some(s) => {
            let missing: Vec<String> =
                s.fields.iter().map(|f| f.name.clone()).filter(|n| !headers.contains(n)).collect();
            if !missing.is_empty() {
                return Err(DataError::MissingColumns { missing, available: headers });
            }
            wanted.iter().map(|w| Some(s.field(w).map(|f| f.ty).unwrap_or(ColumnType::Str))).collect()
        }
        None => vec![None; idx.len()],
    };
    let (mut builders, valid) = match parallel_pass(path, headers.len(), &idx, &wanted, &types)? {
        Some(done) => done,
        None => read_pass(path, &idx, &wanted, &types)?,
    };
    let redo: Vec<usize> = (0..builders.len()).filter(|&k| matches!(builders[k], Builder::Redo)).collect();
    if !redo.is_empty() {
        let redo_idx: Vec<usize> = redo.iter().map(|&k| idx[k]).collect();
        let redo_names: Vec<String> = redo.iter().map(|&k| wanted[k].clone()).collect();
        let redo_types: Vec<Option<ColumnType>> = infer_types(path, &redo_idx)?.into_iter().map(Some).collect();
        let (again, _) = read_pass(path, &redo_idx, &redo_names, &redo_types)?;
        for (k, b) in redo.into_iter().zip(again) {
            builders[k] = b;
        }
    }
    let cols = builders
        .into_iter()
        .zip(wanted)
        .zip(valid)
        .map(|((b, name), valid)| Column::new(name, b.finish()).with_valid(valid))
        .collect();
    Table::new(cols)
}

pub fn write_csv(table: &Table, path: &Path) -> Result<()> {
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = csv::WriterBuilder::new().from_writer(std::io::BufWriter::new(f));
    let err = |e: csv::Error| DataError::Io { path: path.to_path_buf(), source: std::io::Error::other(e) };
    w.write_record(table.names()).map_err(err)?;
    let mut row = Vec::with_capacity(table.columns().len());
    for i in 0..table.rows() {
        row.clear();
        row.extend(table.columns().iter().map(|c| c.display(i)));
        w.write_record(&row).map_err(err)?;
    }
    w.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
        let p = dir.path().join("d.csv");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn types_are_inferred_per_column_with_nulls() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "a,b,c,d,e\n1,1.5,true,x,2024-01-01 01:00:00\n,NaN,False,,2024-01-02\n3,inf,,y,\n");
        let t = read_csv(&p, None, None).unwrap();
        let tys: Vec<ColumnType> = t.columns().iter().map(|c| c.ty()).collect();
        use ColumnType::*;
        assert_eq!(tys, [Int, Float, Bool, Str, Timestamp]);
        assert!(t.column("a").unwrap().is_null(1));
        assert!(t.column("b").unwrap().as_f64(1).unwrap().is_nan());
        assert_eq!(t.column("e").unwrap().as_f64(0), Some(1_704_070_800.0));
        assert!(t.column("d").unwrap().is_null(1));
    }

    #[test]
    fn a_column_widens_as_values_arrive() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "a,b,c,d\n,1,1,true\n1,2,x,1\n2.5,3,y,\n");
        let t = read_csv(&p, None, None).unwrap();
        let tys: Vec<ColumnType> = t.columns().iter().map(|c| c.ty()).collect();
        assert_eq!(tys, [ColumnType::Float, ColumnType::Int, ColumnType::Str, ColumnType::Str]);
        assert_eq!(t.column("a").unwrap().as_f64(1), Some(1.0));
        assert!(t.column("a").unwrap().is_null(0));
        assert_eq!(t.column("c").unwrap().str_at(0), Some("1"));
        assert_eq!(t.column("d").unwrap().str_at(1), Some("1"));
        assert!(t.column("d").unwrap().is_null(2));
    }

    #[test]
    fn a_ragged_line_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "a,b\n1,2\n3\n");
        let e = read_csv(&p, None, None).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("1 field(s), the header has 2"), "{e}");
    }

    #[test]
    fn a_declared_type_that_does_not_parse_names_line_column_and_value() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "a\n1\nabc\n");
        let s = Schema::parse_spec("a:float").unwrap();
        let e = read_csv(&p, Some(&s), None).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("\"abc\" is not a float"), "{e}");
    }

    #[test]
    fn empty_files_and_missing_columns_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "");
        assert!(matches!(read_csv(&p, None, None), Err(DataError::Empty { .. })));
        let p = write(&d, "a,b\n1,2\n");
        let e = read_csv(&p, None, Some(&["a".into(), "z".into()])).unwrap_err();
        assert!(matches!(e, DataError::MissingColumns { .. }), "{e}");
    }

    #[test]
    fn timestamps_round_trip() {
        for s in ["1970-01-01 00:00:00", "2024-02-29 23:59:59", "1969-12-31 12:00:00"] {
            assert_eq!(format_timestamp(parse_timestamp(s).unwrap()), s);
        }
        assert_eq!(parse_timestamp("2024-01-01T00:00:00.250Z"), Some(1_704_067_200));
        assert_eq!(parse_timestamp("2024-13-01"), None);
        assert_eq!(parse_timestamp("20240101"), None);
    }

    /// Sequential and parallel reads of the same large file agree exactly,
    /// including where the two halves disagree on a column's type.
    fn big_csv(rows: usize, tail: &str) -> String {
        let mut text = String::from("id,x,flag,seg,late,mixed,when\n");
        for i in 0..rows {
            let second_half = i >= rows / 2;
            // x: integers, then floats; late: null, then text; mixed: ints, then text (redo).
            let x = if second_half { format!("{}.5", i) } else { i.to_string() };
            let late = if second_half { format!("L{}", i % 7) } else { String::new() };
            let mixed = if second_half && i % 3 == 0 { "abc".to_string() } else { (i % 11).to_string() };
            let seg = ["c", "a", "b", "NA", "d"][(i * 7 + i / 1000) % 5];
            let flag = if i % 13 == 0 {
                ""
            } else if i % 2 == 0 {
                "true"
            } else {
                "false"
            };
            let when = format!("2026-01-{:02} 10:00:{:02}", 1 + i % 28, i % 60);
            text.push_str(&format!("{i},{x},{flag},{seg},{late},{mixed},{when}\n"));
        }
        text.push_str(tail);
        text
    }

    #[test]
    fn a_large_file_read_in_parallel_equals_a_sequential_read() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, &big_csv(120_000, ""));
        assert!(std::fs::metadata(&p).unwrap().len() > PARALLEL_BYTES);
        let parallel = read_csv(&p, None, None).unwrap();
        let headers: Vec<String> = ["id", "x", "flag", "seg", "late", "mixed", "when"].map(String::from).to_vec();
        let idx: Vec<usize> = (0..headers.len()).collect();
        assert!(parallel_pass(&p, 7, &idx, &headers, &[None; 7]).unwrap().is_some(), "took the parallel path");
        // The sequential reference: the same file with a quote forces one pass.
        let q = d.path().join("quoted.csv");
        std::fs::write(&q, big_csv(120_000, "").replacen("id,x", "\"id\",x", 1)).unwrap();
        assert!(parallel_pass(&q, 7, &idx, &headers, &[None; 7]).unwrap().is_none());
        let sequential = read_csv(&q, None, None).unwrap();
        assert_eq!(parallel, sequential);
        let ty = |n: &str| parallel.column(n).unwrap().ty();
        assert_eq!(
            [ty("id"), ty("x"), ty("flag"), ty("seg"), ty("late"), ty("mixed"), ty("when")],
            [
                ColumnType::Int,
                ColumnType::Float,
                ColumnType::Bool,
                ColumnType::Str,
                ColumnType::Str,
                ColumnType::Str,
                ColumnType::Timestamp
            ]
        );
    }

    #[test]
    fn an_error_in_a_later_chunk_names_its_line_in_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, &big_csv(120_000, "1,2,true\n"));
        match read_csv(&p, None, None) {
            Err(DataError::Csv { line, message, .. }) => {
                assert_eq!(line, 120_002, "{message}");
                assert!(message.contains("3 field(s)"), "{message}");
            }
            other => panic!("expected a CSV error, got {other:?}"),
        }
        let schema = Schema { fields: vec![crate::Field { name: "x".into(), ty: ColumnType::Int }] };
        match read_csv(&write(&d, &big_csv(120_000, "")), Some(&schema), Some(&["x".to_string()])) {
            Err(DataError::Csv { line, message, .. }) => {
                assert_eq!(line, 60_002, "the first float, in the second half: {message}");
            }
            other => panic!("expected a CSV error, got {other:?}"),
        }
    }
}
