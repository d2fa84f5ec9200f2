//! The GitLab CI pipeline: `.gitlab-ci.yml`.
//!
//! The same road as GitHub's workflow: merge requests, pushes to the default
//! branch touching the project's paths, schedules and manual runs; a commit
//! saying `[skip ci]` runs nothing. `train` makes and pushes the version and
//! hands its ref to later jobs through a dotenv report (`berth` appends
//! `ref=NAME@N` to the file `$BERTH_OUTPUT` names); `gate` runs each gate
//! file (exit 1 fails the job), keeps the JUnit reports as the pipeline's
//! test report and, on a merge request, posts the Markdown report as a note
//! when `BERTH_GITLAB_TOKEN` (a token that may comment) is set; one job per
//! environment promotes, the first smoke-tested when `BERTH_<ENV>_URL` is
//! set, production started by hand (`when: manual`) as well as by berth's
//! policy. `BERTH_HUB_URL` and `BERTH_TOKEN` are the project's CI/CD
//! variables, never written here.

use crate::{Pipeline, env_var, shell_word, yaml_string};

/// A YAML list item of a script, quoted.
fn line(cmd: &str) -> String {
    format!("    - {}\n", yaml_string(cmd))
}

pub(crate) fn pipeline(p: &Pipeline) -> String {
    let paths: Vec<String> = p.paths.iter().map(|s| yaml_string(s)).collect();
    let mut y = String::new();
    y.push_str("# Notifications (gate results, promotions awaiting approval, promotions) come from berth.toml's\n");
    y.push_str("# [[notifiers]]; BERTH_HUB_URL and BERTH_TOKEN are the project's masked CI/CD variables.\n");
    y.push_str("workflow:\n  rules:\n");
    y.push_str("    - if: $CI_COMMIT_MESSAGE =~ /\\[skip ci\\]/\n      when: never\n");
    y.push_str("    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"\n");
    y.push_str("    - if: $CI_PIPELINE_SOURCE == \"schedule\" || $CI_PIPELINE_SOURCE == \"web\"\n");
    y.push_str(&format!(
        "    - if: $CI_COMMIT_BRANCH == {}\n      changes: [{}]\n\n",
        yaml_string(&p.branch),
        paths.join(", ")
    ));
    let mut stages = vec!["train".to_string(), "gate".to_string()];
    stages.extend(p.environments.iter().map(|e| e.name.clone()));
    y.push_str(&format!("stages: [{}]\n\n", stages.join(", ")));
    y.push_str("variables:\n");
    y.push_str(&format!("  BERTH_VERSION: {}\n", yaml_string(&p.berth_version)));
    y.push_str(&format!("  MODEL: {}\n", p.model));
    y.push_str("  BERTH_OUTPUT: berth.env\n\n");
    y.push_str("default:\n  image: rust:1-bookworm\n");
    y.push_str("  cache:\n    key: berth-$BERTH_VERSION\n    paths: [.cargo/bin/]\n");
    y.push_str("  before_script:\n");
    y.push_str(&line("export CARGO_HOME=\"$CI_PROJECT_DIR/.cargo\" PATH=\"$CI_PROJECT_DIR/.cargo/bin:$PATH\""));
    y.push_str(&line("command -v berth >/dev/null || cargo install --locked berth-cli --version \"$BERTH_VERSION\""));
    y.push('\n');

    y.push_str("train:\n  stage: train\n  script:\n");
    for cmd in p.make_version().lines() {
        y.push_str(&line(cmd));
    }
    y.push_str("  artifacts:\n    reports:\n      dotenv: berth.env\n\n");

    y.push_str("gate:\n  stage: gate\n  needs: [train]\n  variables:\n    REF: $ref\n  script:\n");
    for (_, cmd) in p.gate_commands() {
        y.push_str(&line(&cmd));
    }
    y.push_str("  after_script:\n");
    y.push_str(&line("cat gate-*.md > gate-report.md"));
    y.push_str(&line(
        "if [ \"$CI_PIPELINE_SOURCE\" = merge_request_event ] && [ -n \"$BERTH_GITLAB_TOKEN\" ]; then \
         curl -fsS -X POST -H \"PRIVATE-TOKEN: $BERTH_GITLAB_TOKEN\" --data-urlencode \"body@gate-report.md\" \
         \"$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes\" >/dev/null; fi",
    ));
    y.push_str(
        "  artifacts:\n    when: always\n    paths: [gate-report.md]\n    reports:\n      junit: gate-*.xml\n\n",
    );

    let mut previous = "gate".to_string();
    for e in &p.environments {
        let job = format!("promote-{}", e.name);
        y.push_str(&format!("{job}:\n  stage: {}\n  needs: [train, {previous}]\n", e.name));
        y.push_str(&format!("  environment:\n    name: {}\n", e.name));
        y.push_str("  variables:\n    REF: $ref\n");
        y.push_str("  rules:\n    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"\n      when: never\n");
        if e.reviewed {
            y.push_str("    - when: manual\n      allow_failure: false\n");
        } else {
            y.push_str("    - when: on_success\n");
        }
        y.push_str("  script:\n");
        y.push_str(&line(&format!(
            "berth promote \"$REF\" --to {} --reason \"CI pipeline $CI_PIPELINE_ID\"",
            shell_word(&e.name)
        )));
        if p.smoked() == Some(e) {
            let var = env_var(&e.name);
            y.push_str(&line(&format!(
                "if [ -n \"${var}\" ]; then berth smoke --endpoint \"${var}\" --data {} --rows 20 --expect \"$REF\"; fi",
                shell_word(&p.data)
            )));
        }
        y.push('\n');
        previous = job;
    }
    if let Some(tag) = p.image_tag() {
        y.push_str(
            "serving-image:\n  stage: gate\n  needs: [gate]\n  image: docker:27\n  services: [docker:27-dind]\n",
        );
        y.push_str(&format!("  variables:\n    IMAGE: {}\n", yaml_string(&tag)));
        y.push_str(
            "  rules:\n    - if: $CI_PIPELINE_SOURCE == \"merge_request_event\" || $BERTH_BUILD_IMAGE == \"false\"\n",
        );
        y.push_str("      when: never\n    - when: on_success\n");
        y.push_str("  before_script: []\n  script:\n");
        y.push_str(&line(
            "echo \"$CI_REGISTRY_PASSWORD\" | docker login -u \"$CI_REGISTRY_USER\" --password-stdin \"$CI_REGISTRY\"",
        ));
        y.push_str(&line(&format!("docker build -f {} -t \"$IMAGE\" . && docker push \"$IMAGE\"", crate::DOCKERFILE)));
    }
    y.trim_end().to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_names_each_job_the_road_needs() {
        let y = pipeline(&crate::example());
        for want in [
            "stages: [train, gate, staging, production]",
            "    - \"berth train --config train.toml --push \\\"$MODEL\\\"\"\n",
            "      dotenv: berth.env\n",
            "      junit: gate-*.xml\n",
            "promote-production:\n  stage: production\n  needs: [train, promote-staging]",
            "    - when: manual\n",
            "--expect \\\"$REF\\\"",
        ] {
            assert!(y.contains(want), "missing {want:?} in\n{y}");
        }
        assert!(!y.contains("BERTH_TOKEN:"), "secrets are the project's variables, never written");
    }
}
