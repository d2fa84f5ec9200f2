//! The GitHub Actions workflow: `.github/workflows/berth.yml`.
//!
//! - on a push to the default branch or a pull request touching the
//!   project's paths, weekly (retraining on fresh data), or by hand with the
//!   environment to go as far as; a commit saying `[skip ci]` runs nothing;
//! - `train`: makes the version and pushes it; the step's `ref` output
//!   (`berth` writes it to `$GITHUB_OUTPUT`) names it for every later job;
//! - `gate`: each gate file's `berth validate` (exit 1 fails the job), its
//!   Markdown report in the job summary and, on a pull request, as a
//!   comment; its JUnit report as the run's test report; an `::error`
//!   annotation per failed check;
//! - one job per environment, in order, each promoting with `berth promote`
//!   (refused with what is missing, under berth's policy), the first one
//!   smoke-tested when `vars.BERTH_<ENV>_URL` names its server, production
//!   behind the GitHub environment's required reviewers as well.
//!
//! Secrets are named, never written: `BERTH_TOKEN` and `BERTH_HUB_URL`.

use crate::{Pipeline, block, env_var, shell_word, yaml_string};

/// The steps every job starts with: the checkout, the cached binary, and
/// installing the pinned release when the cache had none.
fn setup_steps() -> String {
    "      - uses: actions/checkout@v4\n\
     \x20     - name: Cache berth\n\
     \x20       uses: actions/cache@v4\n\
     \x20       with:\n\
     \x20         path: ~/.cargo/bin/berth\n\
     \x20         key: berth-${{ runner.os }}-${{ env.BERTH_VERSION }}\n\
     \x20     - name: Install berth\n\
     \x20       run: command -v berth >/dev/null || cargo install --locked berth-cli --version \"$BERTH_VERSION\"\n"
        .to_string()
}

pub(crate) fn workflow(p: &Pipeline) -> String {
    let paths: Vec<String> = p.paths.iter().map(|s| yaml_string(s)).collect();
    let paths = format!("[{}]", paths.join(", "));
    let env_names: Vec<String> = p.environments.iter().map(|e| e.name.clone()).collect();
    let default_env = env_names.first().cloned().unwrap_or_else(|| "staging".into());
    let mut y = String::new();
    y.push_str("# Notifications (gate results, promotions awaiting approval, promotions) come from berth.toml's\n");
    y.push_str("# [[notifiers]]; give the production environment required reviewers in the repository's settings.\n");
    y.push_str("name: berth\n\n");
    y.push_str("on:\n");
    y.push_str(&format!("  push:\n    branches: [{}]\n    paths: {paths}\n", p.branch));
    y.push_str(&format!("  pull_request:\n    paths: {paths}\n"));
    y.push_str("  schedule:\n    - cron: \"0 2 * * 0\" # weekly retraining, Sundays 02:00 UTC\n");
    y.push_str("  workflow_dispatch:\n    inputs:\n      environment:\n");
    y.push_str("        description: Promote the new version as far as this environment\n");
    y.push_str(&format!(
        "        type: choice\n        options: [{}]\n        default: {default_env}\n\n",
        env_names.join(", ")
    ));
    y.push_str("permissions:\n  contents: read\n  checks: write\n  pull-requests: write\n\n");
    y.push_str("concurrency:\n  group: berth-${{ github.ref }}\n  cancel-in-progress: false\n\n");
    y.push_str("env:\n");
    y.push_str(&format!("  BERTH_VERSION: {}\n", yaml_string(&p.berth_version)));
    y.push_str(&format!("  MODEL: {}\n", p.model));
    y.push_str("  BERTH_HUB_URL: ${{ secrets.BERTH_HUB_URL }}\n");
    y.push_str("  BERTH_TOKEN: ${{ secrets.BERTH_TOKEN }}\n\n");
    y.push_str("jobs:\n");

    // Train and push.
    y.push_str("  train:\n    name: Train and push\n");
    y.push_str("    if: ${{ !contains(github.event.head_commit.message, '[skip ci]') }}\n");
    y.push_str("    runs-on: ubuntu-latest\n");
    y.push_str("    outputs:\n      ref: ${{ steps.push.outputs.ref }}\n");
    y.push_str("    steps:\n");
    y.push_str(&setup_steps());
    y.push_str("      - name: Make and push the version\n        id: push\n        run: |\n");
    y.push_str(&block(&p.make_version(), 10));
    y.push('\n');

    // The gate.
    y.push_str("  gate:\n    name: Validation gate\n    needs: train\n    runs-on: ubuntu-latest\n");
    y.push_str("    env:\n      REF: ${{ needs.train.outputs.ref }}\n");
    y.push_str("    steps:\n");
    y.push_str(&setup_steps());
    for (name, cmd) in p.gate_commands() {
        y.push_str(&format!("      - name: Gate {name}\n        run: {cmd}\n"));
    }
    y.push_str(
        "      - name: Gate reports\n        if: ${{ always() }}\n        run: cat gate-*.md > gate-report.md\n",
    );
    y.push_str(
        "      - name: Test report\n        if: ${{ always() }}\n        uses: mikepenz/action-junit-report@v5\n",
    );
    y.push_str("        with:\n          report_paths: gate-*.xml\n          check_name: berth gate\n");
    y.push_str("      - name: Comment the gate report on the pull request\n");
    y.push_str("        if: ${{ always() && github.event_name == 'pull_request' }}\n");
    y.push_str("        env:\n          GH_TOKEN: ${{ github.token }}\n          PR: ${{ github.event.pull_request.number }}\n");
    y.push_str("        run: gh pr comment \"$PR\" --body-file gate-report.md\n\n");

    // One job per environment, in order.
    let mut previous = "gate".to_string();
    for (i, e) in p.environments.iter().enumerate() {
        let job = format!("promote-{}", e.name);
        // Pull requests stop at the gate; a manual run goes as far as it asks.
        let allowed: Vec<String> =
            p.environments[i..].iter().map(|later| format!("inputs.environment == '{}'", later.name)).collect();
        y.push_str(&format!("  {job}:\n    name: Promote to {}\n", e.name));
        y.push_str(&format!("    needs: [train, {previous}]\n"));
        y.push_str(&format!(
            "    if: ${{{{ github.event_name != 'pull_request' && (github.event_name != 'workflow_dispatch' || {}) }}}}\n",
            allowed.join(" || ")
        ));
        y.push_str("    runs-on: ubuntu-latest\n");
        y.push_str(&format!("    environment: {}\n", e.name));
        y.push_str("    env:\n      REF: ${{ needs.train.outputs.ref }}\n");
        y.push_str("    steps:\n");
        y.push_str(&setup_steps());
        y.push_str(&format!(
            "      - name: Promote\n        run: berth promote \"$REF\" --to {} --reason \"CI run ${{{{ github.run_id }}}}\"\n",
            shell_word(&e.name)
        ));
        if p.smoked() == Some(e) {
            let var = env_var(&e.name);
            y.push_str(&format!(
                "      - name: Smoke test\n        if: ${{{{ vars.{var} != '' }}}}\n        env:\n          URL: ${{{{ vars.{var} }}}}\n"
            ));
            y.push_str(&format!(
                "        run: berth smoke --endpoint \"$URL\" --data {} --rows 20 --expect \"$REF\"\n",
                shell_word(&p.data)
            ));
        }
        y.push('\n');
        previous = job;
    }
    if let Some(tag) = p.image_tag() {
        let registry = tag.split('/').next().unwrap_or("docker.io");
        y.push_str("  serving-image:\n    name: Build and push the serving image\n    needs: gate\n");
        y.push_str("    if: ${{ github.event_name == 'push' && vars.BERTH_BUILD_IMAGE != 'false' }}\n");
        y.push_str("    runs-on: ubuntu-latest\n    permissions:\n      contents: read\n      packages: write\n");
        y.push_str(&format!("    env:\n      IMAGE: {}\n", yaml_string(&tag)));
        y.push_str("    steps:\n      - uses: actions/checkout@v4\n");
        y.push_str(&format!(
            "      - uses: docker/login-action@v3\n        with:\n          registry: {registry}\n          \
             username: ${{{{ secrets.BERTH_IMAGE_USERNAME || github.actor }}}}\n          \
             password: ${{{{ secrets.BERTH_IMAGE_PASSWORD || secrets.GITHUB_TOKEN }}}}\n"
        ));
        y.push_str(&format!(
            "      - name: Build and push\n        run: docker build -f {} -t \"$IMAGE\" . && docker push \"$IMAGE\"\n",
            crate::DOCKERFILE
        ));
    }
    y.trim_end().to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workflow_names_each_step_the_pipeline_needs() {
        let y = workflow(&crate::example());
        for want in [
            "berth train --config train.toml --push \"$MODEL\"",
            "berth validate \"$REF\" --gate gates/quality.toml --data test.csv --report-md gate-quality.md",
            "  promote-staging:\n    name: Promote to staging\n    needs: [train, gate]",
            "  promote-production:\n    name: Promote to production\n    needs: [train, promote-staging]",
            "    environment: production\n",
            "berth promote \"$REF\" --to production",
            "berth smoke --endpoint \"$URL\" --data test.csv --rows 20 --expect \"$REF\"",
            "BERTH_TOKEN: ${{ secrets.BERTH_TOKEN }}",
            "options: [staging, production]",
            "docker build -f Dockerfile.berth -t \"$IMAGE\" . && docker push \"$IMAGE\"",
            "IMAGE: \"ghcr.io/acme/churn-server:0.1.0\"",
            "registry: ghcr.io\n",
        ] {
            assert!(y.contains(want), "missing {want:?} in\n{y}");
        }
        assert_eq!(y.matches("berth smoke").count(), 1, "only staging is smoke-tested");
        assert!(!y.contains('\t'), "YAML has no tabs");
    }
}
