"""Chinese names from surname and given-name character frequency tables.

Surname shares follow the published national ranking (王, 李, 张, 刘 lead; a few
compound surnames appear); given-name characters are per gender and birth era, because
popular characters changed sharply between generations (建国 → 伟 → 子涵).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# (surname, approximate share in per cent of the population).
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 3.2), ("杨", 3.1),
    ("赵", 2.6), ("黄", 1.6), ("周", 1.6), ("吴", 1.5), ("徐", 1.3), ("孙", 1.5),
    ("胡", 1.2), ("朱", 1.1), ("高", 1.3), ("林", 0.8), ("何", 0.9), ("郭", 1.1),
    ("马", 1.2), ("罗", 0.7), ("梁", 0.8), ("宋", 0.8), ("郑", 0.8), ("谢", 0.6),
    ("韩", 0.8), ("唐", 0.6), ("冯", 0.6), ("于", 0.8), ("董", 0.7), ("肖", 0.5),
    ("程", 0.5), ("曹", 0.6), ("袁", 0.5), ("邓", 0.4), ("许", 0.5), ("傅", 0.3),
    ("沈", 0.4), ("曾", 0.3), ("彭", 0.4), ("吕", 0.5), ("苏", 0.5), ("卢", 0.5),
    ("蒋", 0.4), ("蔡", 0.4), ("贾", 0.5), ("丁", 0.4), ("魏", 0.5), ("薛", 0.4),
    ("叶", 0.3), ("闫", 0.5), ("余", 0.3), ("潘", 0.3), ("杜", 0.4), ("戴", 0.3),
    ("夏", 0.3), ("钟", 0.2), ("汪", 0.3), ("田", 0.5), ("任", 0.4), ("姜", 0.4),
    ("范", 0.3), ("方", 0.3), ("石", 0.4), ("姚", 0.3), ("谭", 0.2), ("廖", 0.2),
    ("邹", 0.2), ("熊", 0.2), ("金", 0.3), ("陆", 0.2), ("郝", 0.4), ("孔", 0.3),
    ("白", 0.3), ("崔", 0.4), ("康", 0.3), ("毛", 0.2), ("邱", 0.2), ("秦", 0.3),
    ("江", 0.2), ("史", 0.3), ("顾", 0.2), ("侯", 0.3), ("邵", 0.2), ("孟", 0.3),
    ("龙", 0.1), ("万", 0.2), ("段", 0.2), ("雷", 0.2), ("钱", 0.2), ("汤", 0.2),
    ("尹", 0.2), ("黎", 0.1), ("易", 0.1), ("常", 0.3), ("武", 0.3), ("乔", 0.2),
    ("贺", 0.2), ("赖", 0.1), ("龚", 0.1), ("文", 0.1), ("庞", 0.1), ("樊", 0.2),
    ("兰", 0.1), ("殷", 0.1), ("施", 0.1), ("陶", 0.1), ("洪", 0.1), ("翟", 0.1),
    ("安", 0.1), ("颜", 0.1), ("倪", 0.1), ("严", 0.1), ("牛", 0.2), ("温", 0.1),
    ("季", 0.1), ("俞", 0.1), ("章", 0.1), ("鲁", 0.1), ("葛", 0.1), ("韦", 0.1),
    ("申", 0.1), ("毕", 0.1), ("聂", 0.1), ("焦", 0.1), ("邢", 0.1), ("岳", 0.1),
    ("齐", 0.1), ("欧阳", 0.04), ("司马", 0.01), ("上官", 0.01), ("诸葛", 0.01),
)  # fmt: skip

# Given-name characters by (gender, era), most popular first; era 0 = born before
# 1970, 1 = 1970-1989, 2 = 1990 and later.
_GIVEN: dict[tuple[str, int], str] = {
    ("M", 0): "建国华明军伟平志强文德林春海福永庆振立树忠金宝东成荣广胜生利学民山兴",
    ("M", 1): "伟磊勇军涛斌鹏杰强超刚波辉健峰亮明俊浩宇飞龙海新晓东建志华松",
    ("M", 2): "浩宇轩子涵博文俊杰泽睿一晨航然豪梓天逸鑫鹏翔嘉昊铭哲凯奕",
    ("F", 0): "秀英兰玉桂珍凤华芳淑荣琴云梅红丽敏静霞萍素美",
    ("F", 1): "丽静敏燕艳娟霞芳洁婷雪颖慧琳晓红莉娜丹倩晶媛",
    ("F", 2): "欣怡雨萱婷思佳琪梦涵悦可馨诗雅一子媛瑶琳晨妍",
}
# Share of one-character given names by era (they fell out of fashion).
_SINGLE_CHAR_SHARE = (0.30, 0.15, 0.08)


def _zipf(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** 0.7
    return weights / weights.sum()


def birth_era(birth_year: np.ndarray) -> np.ndarray:
    """Return 0, 1 or 2 for births before 1970, in 1970-1989, and from 1990."""
    return np.digitize(birth_year, [1970, 1990])


def draw_names(
    male: np.ndarray, birth_year: np.ndarray, rng: np.random.Generator
) -> pa.Array:
    """Return one name per person (surname + one or two given-name characters)."""
    n = male.shape[0]
    gender = np.where(male, "M", "F")
    surnames = pa.array([s for s, _ in SURNAMES])
    shares = np.array([w for _, w in SURNAMES])
    surname_idx = rng.choice(len(SURNAMES), size=n, p=shares / shares.sum())
    era = birth_era(birth_year)
    # All characters of all six tables live in one array; per-row offsets pick a table.
    table_chars: list[str] = []
    offsets: dict[tuple[str, int], int] = {}
    for key, chars in _GIVEN.items():
        offsets[key] = len(table_chars) + 1  # slot 0 is the empty second character
        table_chars.extend(chars)
    chars = pa.array([""] + table_chars)
    first = np.zeros(n, dtype=np.int64)
    second = np.zeros(n, dtype=np.int64)
    u_len = rng.random((n,))
    for (sex, period), text in _GIVEN.items():
        rows = np.flatnonzero((gender == sex) & (era == period))
        if not rows.size:
            continue
        p = _zipf(len(text))
        first[rows] = offsets[(sex, period)] + rng.choice(len(text), rows.size, p=p)
        two = u_len[rows] >= _SINGLE_CHAR_SHARE[period]
        second[rows[two]] = offsets[(sex, period)] + rng.choice(
            len(text), int(two.sum()), p=p
        )
    return pc.binary_join_element_wise(
        surnames.take(surname_idx), chars.take(first), chars.take(second), ""
    )
