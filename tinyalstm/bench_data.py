"""Data-pipeline benchmark: decoding throughput, optical-flow throughput and accuracy, the peak memory of a
feature-extraction pass as the number of videos grows, and extraction at 1 and 2 worker processes. Prints tables;
asserts nothing (tests check correctness).

    python -m tinyalstm.bench_data                 # everything, a few minutes on 2 cores
    python -m tinyalstm.bench_data --help
"""
import argparse
import tempfile

from .perf.data_pipeline import decode_table, flow_table, memory_table, workers_table


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tinyalstm.bench_data", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Sections: decode (our ffmpeg reader vs ffmpeg to null on one generated 300-frame XVID video), "
               "flow (throughput at 112 and 224 px; endpoint error on generated pairs with known motion), "
               "memory (peak RSS of a fresh process extracting features for a small and a 4x larger synthetic "
               "dataset: it should not grow with the number of videos), workers (decoding + flow of the same "
               "videos at 1 and 2 worker processes, --workers). Data goes to a temporary folder.")
    sections = ["decode", "flow", "memory", "workers"]
    parser.add_argument("--sections", nargs="+", default=sections, choices=sections,
                        help="which tables to print (default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if "decode" in args.sections:
            decode_table(tmp)
        if "flow" in args.sections:
            flow_table()
        if "memory" in args.sections:
            memory_table(tmp)
        if "workers" in args.sections:
            workers_table(tmp)


if __name__ == "__main__":
    from .run.cli import run
    run(main)
