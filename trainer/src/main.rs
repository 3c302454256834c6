//! `trainer`: see `pixelcnn_trainer::cli`.
use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's `mi_option_purge_delay` (its index in `mi_option_e`, mimalloc.h). At -1
/// freed memory stays mapped instead of going back to the OS after a delay (1 s by
/// default): a training step frees and reallocates the same large activations, and
/// returning them made every step fault in and zero fresh pages (7x32, 12 steps: 50k
/// page faults; 1.1k with this, and 15-20% less CPU time).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // SAFETY: sets one integer option; mimalloc allows it at any time
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    if let Err(e) = pixelcnn_trainer::cli::run(pixelcnn_trainer::cli::Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    /// The index names the option: mimalloc v3's default purge delay, 1000 ms (options.c).
    #[test]
    fn purge_delay_index_is_mimallocs() {
        // SAFETY: reads one integer option
        let delay = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000);
    }
}
