"""The learning check (tinyalstm.demo) at a reduced size: aLSTM must learn a task whose class evidence sits in 2
of 12 attended frames, and its attention must concentrate there. Bounds are conservative: the full run's figures
(docs/verification.md) are accuracy ~0.99 and evidence mass ~0.9."""
from tinyalstm.demo import main


def test_alstm_learns_to_attend_to_the_evidence(capsys):
    rows = {name: (acc.mean(), None if mass is None else mass.mean())
            for name, acc, mass, _ in main(["--train", "1200", "--test", "500", "--epochs", "8", "--seeds", "0",
                                            "--models", "alstm", "alstm-b", "lstm", "--quiet"])}
    assert rows["alstm"][0] >= 0.9
    assert rows["alstm"][1] >= 0.5          # uniform attention would put 2/12 = 0.17 on the evidence
    assert rows["alstm-b"][0] >= 0.8
    assert rows["lstm"][0] <= 0.3           # input-data is noise: 6 classes, chance 0.17
    assert "held-out accuracy" in capsys.readouterr().out
