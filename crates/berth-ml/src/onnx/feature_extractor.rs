//! `ai.onnx.ml.ArrayFeatureExtractor` with the output rank onnxruntime
//! gives it.
//!
//! The operator selects entries of the last axis of `X` at the indices `Y`.
//! onnxruntime, and the exporters that target it, give the output the shape
//! `X.shape[:-1] + [Y.size]` whatever `Y`'s rank: a scalar index keeps the
//! selected axis (`[N, C]` → `[N, 1]`). tract gathers with `Y`'s own shape,
//! so a scalar index drops the axis and a later `Concat` fails. Constant
//! indices are therefore made one-dimensional before tract sees the graph.

use tract_onnx::pb;

/// The number of values in a tensor of `dims`.
fn size(dims: &[i64]) -> i64 {
    dims.iter().product()
}

/// Gives every constant `Y` of an `ArrayFeatureExtractor` the shape
/// `[Y.size]`. An initializer that other operators also read is copied
/// rather than changed.
pub fn flatten_constant_indices(graph: &mut pb::GraphProto) {
    let extractors: Vec<usize> = graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "ArrayFeatureExtractor" && n.input.len() == 2)
        .map(|(i, _)| i)
        .collect();
    for i in extractors {
        let indices = graph.node[i].input[1].clone();
        let Some(init) = graph.initializer.iter().position(|t| t.name == indices) else { continue };
        if graph.initializer[init].dims.len() == 1 {
            continue;
        }
        let shared = graph.node.iter().any(|n| n.op_type != "ArrayFeatureExtractor" && n.input.contains(&indices));
        let mut flat = graph.initializer[init].clone();
        flat.dims = vec![size(&flat.dims)];
        if shared {
            flat.name = format!("{indices}__berth_1d");
            if !graph.initializer.iter().any(|t| t.name == flat.name) {
                graph.initializer.push(flat.clone());
            }
            for n in graph.node.iter_mut().filter(|n| n.op_type == "ArrayFeatureExtractor") {
                if n.input.get(1) == Some(&indices) {
                    n.input[1] = flat.name.clone();
                }
            }
        } else {
            graph.initializer[init] = flat;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, inputs: &[&str]) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn scalar_indices_become_vectors_and_shared_ones_are_copied() {
        let scalar =
            |name: &str| pb::TensorProto { name: name.into(), data_type: 7, int64_data: vec![1], ..Default::default() };
        let mut g = pb::GraphProto {
            node: vec![
                node("ArrayFeatureExtractor", &["x", "a"]),
                node("ArrayFeatureExtractor", &["x", "b"]),
                node("Add", &["b", "b"]),
            ],
            initializer: vec![scalar("a"), scalar("b")],
            ..Default::default()
        };
        flatten_constant_indices(&mut g);
        assert_eq!(g.initializer[0].dims, vec![1]);
        assert!(g.initializer[1].dims.is_empty(), "the shared scalar stays for Add");
        assert_eq!(g.node[1].input[1], "b__berth_1d");
        assert_eq!(g.initializer[2].dims, vec![1]);
    }
}
