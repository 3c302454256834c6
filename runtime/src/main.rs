//! `sample`: see `pixelcnn_runtime::cli`.

fn main() {
    pixelcnn_runtime::main(pixelcnn_runtime::cli::run);
}
