//! The generated `OUT_DIR/README.md`: what each file is and how to call it.

use std::fmt::Write;

use pixelcnn_models::contract::{Contract, DimSpec};
use pixelcnn_models::ModelSpec;

pub fn render(spec: &ModelSpec, contract: &Contract, opset: i64) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Exported PixelCNN\n");
    let _ = writeln!(
        s,
        "A {:?} PixelCNN for {}x{}x{} (CxHxW) uint8 images, conditioning: `{}`. ONNX opset {opset}, standard operators only.\n",
        spec.arch, spec.channels, spec.height, spec.width, contract.conditioning
    );
    let _ = writeln!(s, "Every graph carries `pixelcnn.spec` (the model) and `pixelcnn.contract` (this interface, as JSON) in its metadata.\n");
    for (role, g) in &contract.graphs {
        let _ = writeln!(s, "## `{}` ({role})\n", g.file);
        if !g.external_data.is_empty() {
            let files: Vec<String> = g.external_data.iter().map(|f| format!("`{f}`")).collect();
            let _ = writeln!(
                s,
                "Its weights are in {} beside it (ONNX external data): keep them in the same directory.\n",
                files.join(", ")
            );
        }
        let _ = writeln!(s, "| direction | name | dtype | shape |\n|---|---|---|---|");
        for (dir, list) in [("input", &g.inputs), ("output", &g.outputs)] {
            for t in list {
                let shape: Vec<String> = t
                    .shape
                    .iter()
                    .map(|d| match d {
                        DimSpec::Fixed(n) => n.to_string(),
                        DimSpec::Named(n) => n.clone(),
                    })
                    .collect();
                let _ = writeln!(s, "| {dir} | `{}` | {} | [{}] |", t.name, t.dtype, shape.join(", "));
            }
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "## Calling it\n\n`logits[b, c, i, j, :]` are the 256 unnormalised log-probabilities of sub-pixel (c, i, j) given every earlier sub-pixel (raster order, R then G then B). `bits_per_dim[b]` is the NLL of the input image in bits per sub-pixel: use it to score images (likelihood, anomaly detection).\n\n```python\nimport numpy as np, onnxruntime as ort\ns = ort.InferenceSession(\"model.onnx\")\nout = s.run(None, {{\"image\": images_uint8}})  # add \"label\" or \"cond\" if listed above\nlogits, bits_per_dim = out\n```"
    );
    if let Some(sampling) = &contract.sampling {
        let _ = writeln!(s, "\n## Cached sampling\n\n{sampling}");
    }
    s
}
