"""Claims built from parts: word classes combined by rules, routed by product, with their reasons;
and the disclaimers and warnings that name a claim only to deny it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.errors import LexiconError
from auditor.lexicon import load_lexicon
from auditor.scan import Scanner
from tests.conftest import run_cli

LEXICON = load_lexicon()


def _found(text: str, product: str = "general") -> set[str]:
    return {m.category for m in Scanner(LEXICON, product).scan(text)}


def _why(text: str, product: str = "general") -> list[dict[str, str]]:
    return [dict(m.why) for m in Scanner(LEXICON, product).scan(text) if len(m.why) > 1]


# -- efficacy verb and disease -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "坚持喝三个月，三高慢慢就降下来了",  # object before the verb, words between
        "这个贴剂对咽炎特别管用",
        "帮你把湿气排出去，身体轻松",
        "专门调理失眠，睡得特别香",
        "天天泡脚能改善静脉曲张",
        "再也不用吃安眠药了",
        "痰多可用，一天两次",
        "适合过敏性鼻炎的朋友",  # the use before the ailment
        "吃药十年不如喝我们的茶一个月",  # medical care belittled
    ],
)
def test_an_efficacy_verb_and_a_disease_make_a_claim(text: str) -> None:
    assert _found(text) & {"medical.claim", "medical.efficacy"}, text


def test_the_parts_that_matched_are_the_reason() -> None:
    [why] = _why("吃了血糖就稳了", "food")
    assert why == {"object": "血糖", "predicate": "稳了"}
    done = run_cli("scan-text", "-", "--format", "jsonl", "--product-category", "food",
                   stdin="吃了血糖就稳了\n")  # fmt: skip
    assert json.loads(done.stdout.splitlines()[0])["why"] == why


@pytest.mark.parametrize(
    "text",
    [
        "今天降价了，大家快来",  # 降 alone, next to a word that is no disease
        "这个面料防水防风",
        "血糖仪的电池在下面，血压计也在",  # diseases named, nothing claimed of them
        "我们的客服会帮你解决，物流问题请留言",
        "天气转凉了，注意保暖别感冒",
    ],
)
def test_ordinary_speech_with_the_same_words_is_not_a_claim(text: str) -> None:
    assert not _found(text), text


def test_parts_of_a_combination_stay_in_one_clause() -> None:
    assert _found("这个能降血压") == {"food.disease_claim"}
    # The verb ends one clause, the disease begins the next: not one claim. (A lexicon term, such
    # as 降血压, is matched across punctuation: a pause inside a term is an evasion.)
    assert _found("效果很明显改善失眠") == {"medical.claim"}
    assert not _found("效果很明显改善，失眠的问题我们下次讲")


# -- the same claim for different goods ------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "category"),
    [
        ("general", "medical.claim"),
        ("food", "food.disease_claim"),
        ("health-food", "food.disease_claim"),
        ("cosmetics", "cosmetics.special_claim"),
        ("medical-device", "medical.efficacy"),
    ],
)
def test_a_disease_claim_takes_the_category_of_the_goods(product: str, category: str) -> None:
    found = Scanner(LEXICON, product).scan("用了以后关节炎慢慢就好转了")
    assert {m.category for m in found} == {category}
    # The finding carries the legal basis of the category it is for those goods.
    assert {m.legal_basis for m in found} == {LEXICON.categories[category].legal_basis}


@pytest.mark.parametrize(
    ("product", "category"),
    [
        ("education", "education.guarantee"),  # what the course does (Ad Law 24)
        ("drug", "medical.efficacy"),
    ],
)
def test_an_effect_guaranteed_takes_the_category_of_the_goods(product: str, category: str) -> None:
    assert _found("效果不好无效退款", product) == {category}


@pytest.mark.parametrize(
    ("product", "text", "category"),
    [
        ("cosmetics", "这款头皮水能活化毛囊，改善落发", "cosmetics.special_claim"),
        ("cosmetics", "这款面霜抗过敏", "cosmetics.special_claim"),
        ("food", "这个益生菌能改善过敏体质", "food.disease_claim"),
        ("cosmetics", "用了一个月，不再掉发了", "cosmetics.special_claim"),
        ("food", "一瓶长高不是梦", "food.disease_claim"),
        ("food", "增高钙片还能让你再长几公分", "food.disease_claim"),
    ],
)
def test_hair_skin_allergy_and_height_claims(product: str, text: str, category: str) -> None:
    assert category in _found(text, product)


@pytest.mark.parametrize(
    ("product", "text", "category"),
    [
        ("general", "失眠、便秘、胃胀的朋友看过来", "medical.claim"),  # ailments listed
        ("food", "这款茶对痛风的人效果特别好", "food.disease_claim"),  # a benefit for an ailment
        ("general", "对睡眠有很大的帮助", "medical.claim"),
        ("drug", "已经治好了三千多位患者", "medical.efficacy"),  # people said to be cured
        ("drug", "五万名病友都康复了", "medical.efficacy"),
        (
            "cosmetics",
            "洗了两周，白头发慢慢变黑了",
            "cosmetics.special_claim",
        ),  # hair dyed or grown
        ("cosmetics", "坚持用就能长出新的头发", "cosmetics.special_claim"),
        ("medical-device", "戴了三个月，近视从五百度降到二百度", "medical.efficacy"),  # eyesight
        ("general", "老人吃了能多活十年", "medical.efficacy"),  # a longer life
    ],
)
def test_ailments_listed_helped_cured_and_hair_eyes_and_life(
    product: str, text: str, category: str
) -> None:
    assert category in _found(text, product), text


def test_eyesight_in_degrees_is_one_efficacy_claim() -> None:
    assert _found("近视从八百度降到一百度") == {"medical.efficacy"}  # not also medical.claim
    assert _found("戴了半年，从六百度降到三百度") == {"medical.efficacy"}


@pytest.mark.parametrize(
    "text",
    [
        "高血压、糖尿病要按时吃药",  # two ailments named, nothing offered for them
        "对糖尿病患者来说，要少吃甜食",  # an ailment, no benefit
        "对肝脏的副作用要注意",  # a side effect is no benefit
        "明天气温从二十度降到十度",  # degrees of the weather, not of eyesight
    ],
)
def test_ailments_named_without_a_claim(text: str) -> None:
    assert not _found(text) & {"medical.claim", "medical.efficacy"}, text


@pytest.mark.parametrize(
    ("product", "text", "category"),
    [
        ("general", "我们这个牌子就是中国第一", "absolute.superlative"),
        ("general", "这是同类里性价比最高的一款", "absolute.superlative"),
        ("general", "这个锅最实用", "absolute.superlative"),
        ("general", "这台吹风机秒杀市面上所有吹风机", "conduct.disparage"),
        ("general", "秒杀价只有今晚，下播立刻恢复原价", "price.fake_reference"),
        ("general", "这款空调今年销售突破十万套", "data.fake_traffic"),
        ("general", "小红书笔记代发，一单五块", "data.fake_traffic"),
        ("education", "报我们的班，海外名校无条件录取", "education.guarantee"),
        ("education", "学会了以后月入两万不是问题", "education.guarantee"),
        ("education", "主讲老师有十年参与命题的经验", "education.guarantee"),
        ("finance", "这个产品亏钱的概率几乎是零", "finance.guarantee"),
        ("general", "这酒县长都说好", "authority.state"),
        ("general", "部队特供，禁止买卖", "authority.state"),  # the label on the goods, no rule
        ("general", "宫廷秘方，禁止外传", "medical.efficacy"),  # secrecy claimed, no rule
        ("finance", "这个项目每年固定回报百分之八", "finance.guarantee"),
        ("finance", "这款产品的收益率为百分之十二", "finance.guarantee"),
    ],
)
def test_firsts_returns_sales_admissions_and_officials(
    product: str, text: str, category: str
) -> None:
    assert category in _found(text, product), text
    assert not _found("中国第一个登月的人是谁", product) & {"absolute.superlative"}
    assert not _found("满三百最高减五十", product) & {"absolute.superlative"}  # a limit


def test_a_cure_denied_is_no_claim_only_in_its_own_clause() -> None:
    assert "medical.claim" in _found("别人家的都不能根治，我们这个能根治糖尿病")


# -- prices in any form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "吊牌价¥1299到手价¥199",
        "之前专柜卖八百多今天两百不到",
        "原价七百九十九，今天直播间只要九十九",
        "外面店里要好几千我们这边三位数",
        "市场价1万元，今天只要1999",
        "门店卖五六千，我们只要499元",
        "原价上千元，现在只要两位数",
    ],
)
def test_a_reference_price_and_a_current_price_in_any_form(text: str) -> None:
    assert "price.fake_reference" in _found(text), text


def test_the_current_price_may_come_a_while_after_the_reference() -> None:
    # The "now" part may start 30 characters after the reference price, the others 10.
    text = "专柜价格是八百九十九元，今天在我们直播间给大家申请到了一个超级福利，只要两百九十九"
    assert "price.fake_reference" in _found(text)
    padded = text.replace("给大家申请到了一个超级福利", "给大家申请到了一个超级福利" * 3)
    assert "price.fake_reference" not in _found(padded)


def test_a_dated_earlier_price_is_a_fact() -> None:
    assert "price.fake_reference" not in _found("上周卖一百零九，今天直播间一百，便宜九块")


# -- disclaimers and warnings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "text"),
    [
        ("health-food", "保健食品不是药物，不能代替药物治疗疾病"),
        ("health-food", "本品不能代替药物"),
        ("health-food", "有助于增强免疫力"),
        ("health-food", "缓解体力疲劳"),
        ("food", "包括保健食品在内的所有食品均不具有预防和治疗功能。"),
        ("drug", "请按药品说明书或者在药师指导下购买和使用"),
        ("drug", "老年人、心脏病、高血压、糖尿病等患者使用本品前请咨询医师或药师。"),
        ("drug", "用药3天症状无改善或加重者，应及时就医。"),
        ("medical-device", "请仔细阅读产品说明书或者在医务人员的指导下购买和使用"),
        ("finance", "投资有风险，入市需谨慎"),
        ("finance", "理财非存款，产品有风险，投资须谨慎"),
        ("general", "不要相信包治百病的说法"),
        ("general", "“药到病除”不可信。"),
        ("general", "切勿听信虚假宣传，更不要将保健食品用于治疗疾病。"),
        ("general", "直播间不得虚构“全网最低价”“历史最低价”作为卖点"),  # a rule quotes the words
        ("education", "不得使用“保过”“包过”等诱导性宣传用语"),
        ("general", "不法商家以“包治百病”制造噱头，诱导老人购买"),
        ("general", "价格不是唯一要看的，品质更重要"),  # 唯一 denied
        ("finance", "本理财产品不保本，可能发生亏损"),
        ("finance", "这类广告明示或暗示理财产品稳赚不赔、零风险"),  # a report names the words
        ("general", "有的商家以全市最低价等宣传口号促销"),
        ("general", "直播间宣称佩戴此手串能转运招财，属于宣扬封建迷信"),  # a report
        ("drug", "不要购买直播带货等非正规渠道销售的、来源不明的网红神药"),
        ("general", "不得含有“特供”“专供”等传播错误价值导向的内容"),
        ("food", "食品主要是补充营养，不能取代药品的治疗效果"),
        ("general", "在目前医疗技术条件下，近视不能治愈"),  # a cure denied
        ("finance", "非保证收益理财计划不等同于一般存款产品"),
        ("general", "对标注“特供”的商品，市场监管部门责令下架"),  # what a regulator did
        ("general", "标注的出厂价无依据的，属于价格欺诈"),
        ("general", "折扣价应当以促销前最后一次成交价为基准"),
        ("general", "禁止以“国宴专用”名义营销"),
        ("education", "考试中心不提倡押题的做法"),
    ],
)
def test_required_disclaimers_and_warnings_are_no_claims(product: str, text: str) -> None:
    assert not _found(text, product), text


def test_an_approved_function_is_lawful_only_for_a_registered_health_food() -> None:
    assert not _found("有助于增强免疫力", "health-food")
    assert _found("有助于增强免疫力", "food")  # an ordinary food may not claim it


# -- word classes are data -----------------------------------------------------------------------


def _lexicon(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_custom_lexicon_adds_words_to_a_class(tmp_path: Path) -> None:
    assert not _found("喝了以后痛风石消融了")
    extra = _lexicon(tmp_path, '[[class]]\nid = "treat"\nterms = ["消融了"]\n')
    scanner = Scanner(load_lexicon([extra]))
    assert {m.category for m in scanner.scan("喝了以后痛风石消融了")} == {"medical.claim"}


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('# a class\n[[class]]\nid = "Bad Id"\nterms = ["a"]\n', 2, "class id"),
        ('[[class]]\nid = "empty"\n', 1, "needs terms or patterns"),
        ('\n[[class]]\nid = "p"\npatterns = ["("]\n', 2, "invalid pattern"),
        (
            '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\n'
            'parts = [{ name = "a", class = "nowhere" }, { name = "b", class = "disease" }]\n',
            1,
            "unknown class 'nowhere'",
        ),
        (
            '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\n'
            'parts = [{ name = "a", class = "treat" }]\n',
            1,
            "two or more parts",
        ),
        (
            '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\nlead = "z"\n'
            'parts = [{ name = "a", class = "treat" }, { name = "b", class = "disease" }]\n',
            1,
            "lead 'z'",
        ),
        (
            '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\n'
            'parts = [{ name = "a", class = "treat", gap = 3 },\n'
            '         { name = "b", class = "disease" }]\n',
            1,
            "the first part has no part before it",
        ),
        (
            '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\n'
            'parts = [{ name = "a", class = "treat" },\n'
            '         { name = "b", class = "disease", gap = -1 }]\n',
            1,
            "a part's gap must be a whole number",
        ),
        (
            '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\norder = "any"\n'
            'parts = [{ name = "a", class = "treat" },\n'
            '         { name = "b", class = "disease", gap = 9 }]\n',
            1,
            "parts in any order take the rule's gap",
        ),
        (
            '[[rule]]\nid = "superstition/x"\ncategory = "superstition"\n'
            'parts = [{ name = "a", class = "treat" },\n'
            '         { name = "b", class = "disease", far = 1 }]\n',
            1,
            "each part is",
        ),
    ],
)
def test_word_classes_and_combinations_are_validated_with_file_and_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = _lexicon(tmp_path, text)
    with pytest.raises(LexiconError) as caught:
        load_lexicon([path])
    assert caught.value.path == str(path) and caught.value.line == line
    assert problem in str(caught.value)


def test_lexicon_list_shows_the_classes_and_their_sizes() -> None:
    done = run_cli("lexicon", "list", "--format", "json")
    classes = {c["id"]: c for c in json.loads(done.stdout)["classes"]}
    assert classes["disease"]["terms"] >= 300
    assert classes["amount"]["patterns"] >= 1
    table = run_cli("lexicon", "list").stdout
    assert "word classes" in table and "disease" in table
