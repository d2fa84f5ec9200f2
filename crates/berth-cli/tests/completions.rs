//! Shell completions and manual pages come from the parser's own
//! definitions: bash, loading the script, completes berth's commands and a
//! command's flags; zsh and fish get theirs; `berth man` is one roff page,
//! `--dir` a page per command.

mod support;

use std::process::Command;

use support::Project;

/// What bash completes for the words typed so far, with berth's script loaded.
fn complete_in_bash(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = format!(
        "source {}\nCOMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"{}\"; COMP_POINT=${{#COMP_LINE}}; _berth berth {} {}; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2]
    );
    let out = Command::new("bash").args(["--norc", "--noprofile", "-c", &line]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_commands_and_flags_and_the_other_shells_get_scripts() {
    let p = Project::empty();
    let bash = p.write("berth.bash", p.berth(&["completions", "bash"]).ok().stdout.as_bytes());
    let commands = complete_in_bash(&bash, &["berth", "pro"]);
    assert_eq!(commands, ["promote"], "{commands:?}");
    let flags = complete_in_bash(&bash, &["berth", "promote", "--t"]);
    assert!(flags.contains(&"--to".to_string()), "{flags:?}");
    let ci = complete_in_bash(&bash, &["berth", "ci", "init", "g"]);
    assert_eq!(ci, ["github", "gitlab"], "{ci:?}");
    assert!(p.berth(&["completions", "zsh"]).ok().stdout.starts_with("#compdef berth"));
    assert!(p.berth(&["completions", "fish"]).ok().stdout.contains("complete -c berth -n"));
    let bad = p.berth(&["completions", "powershell"]).fails(2);
    assert!(bad.stderr.contains("possible values: bash, zsh, fish"), "{}", bad.stderr);
}

#[test]
fn the_manual_is_one_page_or_a_page_per_command() {
    let p = Project::empty();
    let page = p.berth(&["man"]).ok().stdout;
    assert!(page.contains(".TH berth 1") && page.contains("promote"), "{}", &page[..page.len().min(400)]);
    let wrote = p.berth(&["man", "--dir", "man1"]).ok();
    assert!(wrote.stdout.starts_with("wrote "), "{}", wrote.stdout);
    let push = std::fs::read_to_string(p.path().join("man1/berth-push.1")).unwrap();
    assert!(push.contains(".TH berth-push 1") && push.contains("if\\-changed"), "{push}");
    assert!(p.path().join("man1/berth-alias-set.1").exists() && p.path().join("man1/berth-ci-init.1").exists());
}
