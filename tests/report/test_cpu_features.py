"""The SIMD flags benchmarks record beside the CPU's name (INT8 vs FP32 speed depends on them)."""

from edgekd.report.build_report import cpu_features


def test_x86_and_arm_flags_are_read_and_filtered(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 fma avx2 bmi2 avx512f avx512_vnni\n")
    assert cpu_features(str(x86)) == ["fma", "avx2", "avx512f", "avx512_vnni"]
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 asimddp\n")
    assert cpu_features(str(arm)) == ["asimd", "asimddp"]
    assert cpu_features(str(tmp_path / "missing")) == []
