"""``nodedoctor why`` with Chinese text (issue 16): an English error pasted inside a Chinese
sentence is found as it is alone, and a description in Chinese names the rule whose zh_CN
runbook describes the problem so (its ``常见描述：`` phrasings), while unrelated Chinese text
names none; the answer is in the current language.

The machinery is tested with runbooks written here (``parse_doc(..., "zh_CN")`` through a
patched loader); the descriptions at the end run against the real zh_CN runbooks.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator

import pytest

from nodedoctor import i18n
from nodedoctor.cli import main
from nodedoctor.cli.why import with_descriptions
from nodedoctor.rules import all_rules, base
from nodedoctor.rules._symptom_descriptions import (
    DescriptionIndex,
    description_index_for,
    description_terms,
)
from nodedoctor.rules._symptom_words import words
from nodedoctor.rules.base import RuleDoc, parse_doc
from nodedoctor.rules.families import ENGINE_RULES
from nodedoctor.rules.symptoms import MAX_LINE_CHARS, SymptomMatch, index_for
from tests.helpers import ROOTS

RULES = [r for r in all_rules() if r.id not in ENGINE_RULES]
REGISTERED = {r.id for r in RULES}
INDEX = index_for(RULES)
HEALTHY = ROOTS / "kubeadm-healthy-v2" / "root"


@pytest.fixture(autouse=True)
def _english_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    yield
    i18n.set_language(None)


def _named(text: str) -> list[str]:
    """The rules ``why`` names for ``text``, best first."""
    return [m.rule_id for m in with_descriptions(INDEX.match_text(text), text)]


# -- an English error inside Chinese text ----------------------------------------------------

#: Every symptom the English index holds (the generic ones, "cni0", are not indexed).
DOCUMENTED = sorted({(s.rule_id, s.text) for s in INDEX.symptoms})
#: Chinese around the error, with no ASCII word of its own.
WRAPPINGS = [
    "部署完以后报错 {error}，怎么办？",
    "报错{error}怎么办",
    "日志：“{error}”。求助！",
    "大家好：\n节点起不来，日志如下：\n{error}\n请问是什么原因？",
]
#: Chinese around the error with ASCII words: the same as those words alone around it.
WITH_WORDS = "部署完 k3s 以后 kubelet 报错 {error}，怎么办？"


def _kinds(matches: list[SymptomMatch]) -> list[tuple[str, str]]:
    return [(m.rule_id, m.kind) for m in matches]


@pytest.mark.parametrize(
    ("rule_id", "symptom"), DOCUMENTED, ids=[f"{r}:{s[:40]}" for r, s in DOCUMENTED]
)
def test_an_error_inside_chinese_text_matches_as_it_does_alone(rule_id: str, symptom: str) -> None:
    alone = _kinds(INDEX.match_text(symptom))
    for wrapping in WRAPPINGS:
        text = wrapping.format(error=symptom)
        assert _kinds(INDEX.match_text(text)) == alone, text
        if any(kind == "full" for _rule, kind in alone):
            assert _kinds(with_descriptions(INDEX.match_text(text), text)) == alone, text
    text = WITH_WORDS.format(error=symptom)
    words_only = "k3s kubelet " + symptom
    assert _kinds(INDEX.match_text(text)) == _kinds(INDEX.match_text(words_only)), text


def test_the_research_example_inside_chinese_text() -> None:
    text = "部署完 k3s 以后 kubelet 报错 failed to find memory cgroup (v2)，怎么办？"
    alone = INDEX.match_text("failed to find memory cgroup (v2)")
    assert _kinds(INDEX.match_text(text)) == _kinds(alone)
    assert alone[0].rule_id == "cgroup-controller-disabled"


def _full_width(text: str) -> str:
    """``text`` as a Chinese input method in full-width mode types it."""
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    )


def test_full_width_letters_and_ids_against_han_characters() -> None:
    """An input method's full-width letters and punctuation are ASCII; a UUID written against
    Han characters is an id (Python's own word boundary would have it part of a word)."""
    error = "failed to find memory cgroup (v2)"
    assert [w.text for w in words(_full_width(error))] == [w.text for w in words(error)]
    assert [w.text for w in words("容器6f1c2b3a-9d4e-4f5a-8b6c-7d8e9f0a1b2c报错")] == ["uid"]
    assert [w.text for w in words("镜像0123456789abcdef0123拉取")] == ["hexid"]
    rm = "rm: cannot remove '/run/calico/cgroup/cgroup.procs': Operation not permitted"
    assert _kinds(INDEX.match_text(_full_width(rm))) == [("foreign-cgroup-mount", "full")]
    assert _kinds(INDEX.match_text(f"报错：{_full_width(rm)}。")) == [
        ("foreign-cgroup-mount", "full")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "内存 cgroup 未启用",
        "Pod 一直处于 Terminating",
        "节点上 swap 开着 kubelet 起不来",
        "kubeadm init 报 ip_forward",
        "cgroup 驱动不一致，一个 systemd 一个 cgroupfs",
        "权限被拒绝 permission denied",
    ],
)
def test_chinese_words_never_match_an_english_symptom(text: str) -> None:
    """The English symptoms see only the ASCII words of a description: too few to match."""
    assert INDEX.match_text(text) == []


# -- descriptions, against runbooks written here ----------------------------------------------

TWINS = {
    "apparmor-blocks-runc-signal": """# apparmor-blocks-runc-signal

AppArmor 4 阻止 runc 向容器发送信号，Pod 删除不掉。

## 症状

Pod 一直停留在 Terminating；Pod 事件显示 FailedKillPod：

- `unable to signal init: permission denied`

常见描述：
- Pod 一直处于 Terminating 状态
- 删除 Pod 卡住，删不掉
- dmesg 里有 apparmor DENIED signal

## 验证

再删除一个 Pod：它在几秒内消失。内核日志不再有拒绝记录。
""",
    "swap-enabled": """# swap-enabled

节点上启用了交换分区（swap），而 kubelet 会拒绝运行。

## 症状

kubelet 启动时退出：

`running with swap on is not supported, please disable swap or set --fail-swap-on flag to false`

常见描述：
- kubelet 启动失败，提示不支持 swap
- 没有关闭交换分区，kubelet 起不来
- swapoff -a 之后重启又开了

## 验证

`swapon --show` 没有输出。
""",
    "cgroup-controller-disabled": """# cgroup-controller-disabled

内核没有提供 kubelet 需要的 cgroup 控制器。

## 症状

cgroup v2 上的 k3s 立即退出：`failed to find memory cgroup (v2)`

常见描述：
- 内存 cgroup 未启用
- 树莓派上 k3s 起不来，报内存 cgroup 没开
- /sys/fs/cgroup/cgroup.controllers 里没有 memory
""",
    "cgroup-driver-mismatch": """# cgroup-driver-mismatch

kubelet 与容器运行时使用的 cgroup 驱动不同。

## 症状

kube-system 的 Pod 循环重启，事件显示 `Pod sandbox changed, it will be killed and re-created.`

常见描述：
- Pod 沙箱反复重建
- kubelet 和 containerd 的 cgroup 驱动不一致
- 控制平面组件隔几分钟就重启一次
""",
}


@pytest.fixture
def twins(monkeypatch: pytest.MonkeyPatch) -> dict[str, RuleDoc]:
    """The runbooks above as the rules' zh_CN twins (every other rule has none)."""
    docs = {rule_id: parse_doc(rule_id, text, "zh_CN") for rule_id, text in TWINS.items()}
    english = base.load_doc

    def load_doc(rule_id: str, language: str = "en") -> RuleDoc:
        if language == "zh_CN" and rule_id in docs:
            return docs[rule_id]
        return english(rule_id)

    monkeypatch.setattr(base, "load_doc", load_doc)
    return docs


def test_the_index_holds_the_twins_phrasings_only(twins: dict[str, RuleDoc]) -> None:
    index = description_index_for(RULES)
    assert index.rule_ids() == set(TWINS)
    assert {p for _rule, p, _terms in index.phrasings} == {
        p for doc in twins.values() for p in doc.phrasings
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pod 删不掉了，一直 Terminating", "apparmor-blocks-runc-signal"),
        ("kubectl delete pod 之后卡在 Terminating 好几天", "apparmor-blocks-runc-signal"),
        ("节点上 swap 开着 kubelet 起不来", "swap-enabled"),
        ("关闭交换分区以后 kubelet 还是起不来", "swap-enabled"),
        ("树莓派 4 上装 k3s，内存 cgroup 没有启用", "cgroup-controller-disabled"),
        ("沙箱一直反复重建", "cgroup-driver-mismatch"),
        ("containerd 和 kubelet 的 cgroup 驱动不一样", "cgroup-driver-mismatch"),
    ],
)
def test_a_description_names_its_rule_first(
    twins: dict[str, RuleDoc], text: str, expected: str
) -> None:
    assert _named(text)[:1] == [expected]


@pytest.mark.parametrize(
    "text",
    ["今天天气很好", "如何安装 Kubernetes", "请问 Pod 怎么扩容", "kubelet 是什么", "swap 是什么"],
)
def test_unrelated_chinese_names_no_rule(twins: dict[str, RuleDoc], text: str) -> None:
    assert _named(text) == []


def test_ways_of_saying_the_same_state_are_one_term() -> None:
    assert description_terms("驱动不一样") == description_terms("驱动不一致")
    assert description_terms("CRI 没有启用") == description_terms("CRI 未启用")
    assert description_terms("CRI 未启用") == description_terms("CRI 禁用") == {"cri", "禁用"}


def test_descriptions_rank_by_likeness() -> None:
    index = DescriptionIndex(
        [
            ("a", "Pod 沙箱反复重建"),
            ("a", "cgroup 驱动不一致"),
            ("b", "控制平面组件反复重启"),
            ("c", "内存 cgroup 未启用"),
        ]
    )
    scores = index.scores("Pod 沙箱反复重建，控制平面也反复重启")
    assert [x.rule_id for x in scores][:2] == ["a", "b"]
    assert scores[0].phrasing == "Pod 沙箱反复重建"
    assert [m.rule_id for m in index.match("沙箱反复重建")] == ["a"]
    assert [m.kind for m in index.match("沙箱反复重建")] == ["description"]


def test_a_full_match_leaves_the_description_aside(twins: dict[str, RuleDoc]) -> None:
    """With an English error shown in full, the answer is the error's: the words around it
    ("Pod 一直处于 Terminating") add no rule."""
    error = (
        "running with swap on is not supported, please disable swap or set --fail-swap-on flag "
        "to false"
    )
    text = f"Pod 一直处于 Terminating，kubelet 报 {error}"
    assert _named(text) == [m.rule_id for m in INDEX.match_text(error)] == ["swap-enabled"]


def test_a_fragment_and_a_description_together(twins: dict[str, RuleDoc]) -> None:
    """A fragment of an error and the description of another problem: both are named, the
    description first (a fragment may be a look-alike's)."""
    text = "沙箱反复重建，另外日志里有 unable to signal init: permission denied"
    assert _named(text) == ["cgroup-driver-mismatch", "apparmor-blocks-runc-signal"]


def test_a_description_is_read_up_to_the_line_bound(twins: dict[str, RuleDoc]) -> None:
    padding = "某" * MAX_LINE_CHARS
    assert _named("内存 cgroup 未启用 " + padding)[:1] == ["cgroup-controller-disabled"]
    assert _named(padding + " 内存 cgroup 未启用") == []
    assert description_terms(padding + "内存") == {"某某"}


# -- the command ------------------------------------------------------------------------------


def test_why_answers_a_description_in_chinese(
    twins: dict[str, RuleDoc], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["--lang", "zh_CN", "why", "--root", str(HEALTHY), "Pod 删不掉，一直 Terminating"])
        == 1
    )
    out = capsys.readouterr().out
    assert "您给出的信息与 1 个已知症状相符：" in out
    assert "您的描述与“删除 Pod 卡住，删不掉”相近" in out or "Pod 一直处于 Terminating 状态" in out
    assert "apparmor-blocks-runc-signal 在本节点上检查通过：不是这里的原因。" in out
    # the localized runbook's summary and Verify, to their first full stop
    assert "  它检查的是：AppArmor 4 阻止 runc 向容器发送信号，Pod 删除不掉。" in out
    assert "  手动确认：再删除一个 Pod：它在几秒内消失。" in out
    assert "以上都不是本节点上的原因。" in out


def test_why_in_english_names_a_chinese_description(
    twins: dict[str, RuleDoc], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["why", "--root", str(HEALTHY), "节点上 swap 开着 kubelet 起不来"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Your message matches 1 known symptom:\n\n  swap-enabled  ")
    assert "    your description reads like “" in out
    assert "swap-enabled passes on this node: not the cause here." in out


def test_why_json_of_a_description(
    twins: dict[str, RuleDoc], capsys: pytest.CaptureFixture[str]
) -> None:
    text = "沙箱反复重建"
    assert main(["why", "--root", str(HEALTHY), "--format", "json", text]) == 1
    (match,) = json.loads(capsys.readouterr().out)["matches"]
    assert (match["rule"], match["kind"], match["line"], match["text"]) == (
        "cgroup-driver-mismatch",
        "description",
        0,
        text,
    )
    assert match["symptom"] == "Pod 沙箱反复重建"
    assert match["verdict"] == "passed"


def test_why_reads_a_chinese_paste_from_stdin(
    twins: dict[str, RuleDoc],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pasted = "大家好，\n树莓派上装 k3s，\n内存 cgroup 没开，怎么办？\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pasted.encode())))
    assert main(["--lang", "zh_CN", "why", "--root", str(HEALTHY)]) == 1
    out = capsys.readouterr().out
    assert "  cgroup-controller-disabled  " in out
    assert "cgroup-controller-disabled 在本节点上检查通过" in out


def test_why_unrelated_chinese_in_chinese(
    twins: dict[str, RuleDoc], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--lang", "zh_CN", "why", "--root", str(HEALTHY), "今天天气很好"]) == 1
    assert "您给出的信息与 nodedoctor 已知的任何症状都不相符。" in capsys.readouterr().out


def test_why_finds_the_cause_of_an_error_inside_chinese(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = ROOTS / "kubekey-teardown-calico" / "root"
    error = "rm: cannot remove '/run/calico/cgroup/cgroup.procs': Operation not permitted"
    text = f"kk delete cluster 的时候报错：{error}，怎么办？"
    assert main(["--lang", "zh_CN", "why", "--root", str(root), text]) == 0
    out = capsys.readouterr().out
    assert f"第 1 行显示了 `{error}`" in out
    assert "本节点上的原因：foreign-cgroup-mount。" in out


# -- the real zh_CN runbooks ------------------------------------------------------------------

#: Descriptions a Chinese user writes, and the rules each speaks of (any is right first).
DESCRIPTIONS = [
    ("内存 cgroup 未启用", {"cgroup-controller-disabled"}),
    ("Pod 一直处于 Terminating", {"apparmor-blocks-runc-signal"}),
    ("沙箱反复重建", {"cgroup-driver-mismatch"}),
    ("树莓派上 k3s 起不来 内存 cgroup", {"cgroup-controller-disabled"}),
    (
        "microk8s kubepods 不存在",
        {"kubepods-invalid", "cgroup-controller-not-delegated"},  # MicroK8s' cpuset: either
    ),
    ("kk delete cluster 删除失败 /run/calico", {"foreign-cgroup-mount"}),
    ("节点上 swap 开着 kubelet 起不来", {"swap-enabled"}),
    ("kubeadm init 报 ip_forward", {"ip-forwarding-disabled"}),
    ("容器运行时 CRI 未启用", {"containerd-cri-disabled"}),
    ("cgroup 驱动不一致", {"cgroup-driver-mismatch"}),
    ("kubeadm reset 以后 /var/lib/kubelet 下还有挂载，删不掉", {"kubelet-mounts-left"}),
    ("kubeadm init 的时候提示 6443 端口被占用", {"kubernetes-port-in-use"}),
    ("br_netfilter 模块没有加载，bridge-nf-call-iptables 不存在", {"bridge-netfilter"}),
    ("改了 cmdline.txt 重启以后参数没生效", {"boot-cmdline-ignored"}),
    ("升级 kubelet 以后在 cgroup v1 的机器上起不来", {"cgroup-v1-unsupported"}),
    ("Pod 删不掉，删除的时候一直卡住", {"apparmor-blocks-runc-signal"}),
    (
        "kubelet 和 containerd 的 cgroup 驱动一个是 systemd 一个是 cgroupfs",
        {"cgroup-driver-mismatch"},
    ),
    ("关掉交换分区以后 kubelet 就能启动了吗", {"swap-enabled"}),
]
UNRELATED = [
    "今天天气很好",
    "如何安装 Kubernetes",
    "请问 Pod 怎么扩容",
    "怎么给 Deployment 配置资源限制",
    "我想学习 Docker 和容器技术",
    "Service 的 ClusterIP 是怎么分配的",
]


@pytest.mark.parametrize(("text", "expected"), DESCRIPTIONS, ids=[d[0] for d in DESCRIPTIONS])
def test_the_runbooks_name_the_rule_a_description_speaks_of(text: str, expected: set[str]) -> None:
    assert expected <= REGISTERED
    named = _named(text)
    assert named, f"{text}: named no rule, wanted {expected}"
    assert named[0] in expected, f"{text}: named {named}, wanted {expected}"


@pytest.mark.parametrize("text", UNRELATED)
def test_the_runbooks_name_no_rule_for_unrelated_text(text: str) -> None:
    assert _named(text) == []
