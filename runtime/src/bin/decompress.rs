//! `decompress`: see `pixelcnn_runtime::codec_cli`.

fn main() {
    pixelcnn_runtime::main(pixelcnn_runtime::codec_cli::decompress_main);
}
