//! tract's errors, retold in berth's words: which node of the ONNX graph
//! failed, its operator, and at which step (working out shapes and types,
//! translating, optimising, or running), with tract's innermost reason last.

use tract_onnx::pb;
use tract_onnx::prelude::TractError;

/// The name tract gives the failing node: the first `#<n> "<name>"` in the
/// error's chain of contexts.
fn tract_node(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(at) = rest.find('#') {
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Some(quoted) = rest[digits..].strip_prefix(" \"").filter(|_| digits > 0) {
            return quoted.find('"').map(|end| &quoted[..end]);
        }
    }
    None
}

/// The ONNX node behind a tract node name: the same name, or the longest
/// node name that the tract name extends with `.` (tract names the pieces
/// it expands a node into `<node>.<piece>`).
fn onnx_node<'a>(tract_name: &str, nodes: &'a [pb::NodeProto]) -> Option<&'a pb::NodeProto> {
    nodes.iter().find(|n| n.name == tract_name).or_else(|| {
        nodes
            .iter()
            .filter(|n| {
                !n.name.is_empty() && tract_name.strip_prefix(n.name.as_str()).is_some_and(|r| r.starts_with('.'))
            })
            .max_by_key(|n| n.name.len())
    })
}

fn step(text: &str) -> &'static str {
    if text.contains("Failed analyse") || text.contains("Infering facts") {
        "berth cannot work out the shapes or types of its outputs"
    } else if text.contains("Translating") {
        "berth cannot translate it for the types it receives"
    } else if text.contains("Evaluating") {
        "it failed on this input"
    } else if text.contains("declutter") || text.contains("optimi") || text.contains("codegen") {
        "berth cannot simplify the graph at this node"
    } else {
        "berth cannot run it"
    }
}

/// `e` as one sentence naming the node and its operator.
pub fn in_words(e: &TractError, nodes: &[pb::NodeProto]) -> String {
    let text = format!("{e:#}");
    let reason = e.root_cause().to_string();
    let Some(name) = tract_node(&text) else { return format!("berth cannot run this graph ({reason})") };
    match onnx_node(name, nodes) {
        Some(n) => {
            let op = if n.domain.is_empty() { n.op_type.clone() } else { format!("{}.{}", n.domain, n.op_type) };
            format!("node '{}' ({op}): {} ({reason})", n.name, step(&text))
        }
        None => format!("node '{name}': {} ({reason})", step(&text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_node_is_found_in_the_context_chain() {
        let text = "running pass declutter: declutter node #4 \"Lin.matmul.k\" EinSum: in output_facts";
        assert_eq!(tract_node(text), Some("Lin.matmul.k"));
        assert_eq!(tract_node("Evaluating #19 \"Less\" LT: Can not broadcast"), Some("Less"));
        assert_eq!(tract_node("no node here #x"), None);
        let nodes = vec![
            pb::NodeProto { name: "Lin".into(), op_type: "LinearRegressor".into(), ..Default::default() },
            pb::NodeProto { name: "Less".into(), op_type: "Less".into(), ..Default::default() },
        ];
        assert_eq!(onnx_node("Lin.matmul.k", &nodes).map(|n| n.op_type.as_str()), Some("LinearRegressor"));
        assert_eq!(onnx_node("Less", &nodes).map(|n| n.op_type.as_str()), Some("Less"));
        assert!(onnx_node("Other", &nodes).is_none());
    }
}
