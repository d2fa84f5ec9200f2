//! `berth data`: synthetic files are reproducible to the byte; profiles and
//! schemas read both formats; bad input is named.

mod support;

use support::Project;

#[test]
fn the_same_seed_gives_a_byte_identical_file_in_both_formats() {
    let p = Project::empty();
    for kind in ["classification", "regression", "forecast", "text", "anomaly"] {
        for ext in ["csv", "parquet"] {
            let a = format!("{kind}-a.{ext}");
            let b = format!("{kind}-b.{ext}");
            p.berth(&["data", "synth", "--kind", kind, "--rows", "500", "--seed", "9", "-o", &a]).ok();
            p.berth(&["data", "synth", "--kind", kind, "--rows", "500", "--seed", "9", "-o", &b]).ok();
            let (x, y) = (std::fs::read(p.path().join(&a)).unwrap(), std::fs::read(p.path().join(&b)).unwrap());
            assert!(x == y, "{kind} {ext} differs between runs");
        }
        p.berth(&["data", "synth", "--kind", kind, "--rows", "500", "--seed", "10", "-o", "other.csv"]).ok();
        assert_ne!(
            std::fs::read(p.path().join("other.csv")).unwrap(),
            std::fs::read(p.path().join(format!("{kind}-a.csv"))).unwrap()
        );
    }
}

#[test]
fn csv_and_parquet_hold_the_same_table() {
    let p = Project::empty();
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "300", "-o", "d.csv"]).ok();
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "300", "-o", "d.parquet"]).ok();
    let a = p.berth(&["data", "profile", "d.csv", "--json"]).ok().json();
    let b = p.berth(&["data", "profile", "d.parquet", "--json"]).ok().json();
    assert_eq!(a, b);
    let schema = p.berth(&["data", "schema", "d.parquet", "--json"]).ok().json();
    let types: Vec<&str> = schema["fields"].as_array().unwrap().iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(types.last(), Some(&"int"));
    assert!(types.contains(&"str"));
}

#[test]
fn a_drifted_copy_moves_the_named_column_only() {
    let p = Project::empty();
    p.berth(&["data", "synth", "--kind", "forecast", "--rows", "2000", "-o", "ref.csv"]).ok();
    p.berth(&[
        "data",
        "synth",
        "--kind",
        "forecast",
        "--rows",
        "2000",
        "--drift",
        "shift:temperature=5",
        "-o",
        "cur.csv",
    ])
    .ok();
    let r = p.berth(&["data", "profile", "ref.csv", "--json"]).ok().json();
    let c = p.berth(&["data", "profile", "cur.csv", "--json"]).ok().json();
    let mean = |j: &serde_json::Value, col: &str| {
        j["columns"].as_array().unwrap().iter().find(|x| x[0] == col).unwrap()[1]["mean"].as_f64().unwrap()
    };
    assert!((mean(&c, "temperature") - mean(&r, "temperature") - 5.0).abs() < 1e-6);
    assert_eq!(mean(&c, "humidity"), mean(&r, "humidity"));
}

#[test]
fn bad_data_input_is_named() {
    let p = Project::empty();
    p.write("ragged.csv", b"a,b\n1,2\n3\n");
    p.write("empty.csv", b"");
    p.write("fake.parquet", b"PAR1 but not really");
    let cases: &[(&[&str], &str)] = &[
        (&["data", "profile", "ragged.csv"], "line 3"),
        (&["data", "profile", "empty.csv"], "empty"),
        (&["data", "profile", "fake.parquet"], "not a readable Parquet file"),
        (&["data", "profile", "ragged.txt2"], "unknown file type"),
        (&["data", "synth", "--kind", "images", "-o", "x.csv"], "invalid value 'images' for '--kind <KIND>'"),
        (
            &["data", "synth", "--kind", "forecast", "--drift", "shift:nope=1", "-o", "x.csv"],
            "missing column(s) [\"nope\"]",
        ),
        (&["data", "synth", "--kind", "forecast", "--drift", "tilt:load=1", "-o", "x.csv"], "unknown operation"),
        (&["data", "synth", "--kind", "forecast", "--rows", "0", "-o", "x.csv"], "at least 1"),
    ];
    for (args, needle) in cases {
        let r = p.berth(args).fails(2);
        assert!(r.stderr.contains(needle), "{args:?}: expected {needle:?} in\n{}", r.stderr);
    }
}
