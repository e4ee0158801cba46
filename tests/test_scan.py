"""The scanner on text: claims, the traps that are not claims, and the evasions."""

from __future__ import annotations

import pytest

from auditor.lexicon import load_lexicon
from auditor.scan import Scanner


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(load_lexicon())


def categories(scanner: Scanner, text: str) -> set[str]:
    return {m.category for m in scanner.scan(text)}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("这款精华液是全网第一，效果最好。", "absolute.superlative"),
        ("这个锅永久不粘", "absolute.guarantee"),
        ("国家级的品质，人民大会堂都在用", "authority.state"),
        ("这个牙膏可以消炎杀菌", "medical.claim"),
        ("这个药没有任何副作用，药到病除", "medical.efficacy"),
        ("这个保健品可以防癌抗癌", "food.disease_claim"),
        ("这个洗发水能生发，还有干细胞成分", "cosmetics.special_claim"),
        ("我们的老师是命题组的，押题特别准", "education.guarantee"),
        ("跟着老师投资稳赚不赔，零风险", "finance.guarantee"),
        ("原价三百九十九，今天直播间只要三十九", "price.fake_reference"),
        ("仅此一次，随时涨价", "urgency.inducement"),
        ("差评我们都删掉了，好评率百分之百", "data.fake_traffic"),
        ("我们吊打所有大牌", "conduct.disparage"),
        ("这个摆件可以辟邪镇宅", "superstition"),
        ("私信我发你链接，加V拿内部价", "diversion.offplatform"),
        ("哪里的樱桃最好吃？大连樱桃最好吃！", "absolute.superlative"),  # 最|好吃, not 最好|吃
        ("这款是最好看的", "absolute.superlative"),
        ("高产大棒，品质极佳", "absolute.superlative"),
        ("店面房租到期，全部清仓，一件不留", "urgency.inducement"),
        ("还剩最后八小时，抓紧下单", "urgency.inducement"),
        ("只要报我名字就可进入清北班", "education.guarantee"),
        ("学编程保送清北", "education.guarantee"),
        ("名师授课，考不到目标分？全额退款！", "education.guarantee"),  # refund on failure
        ("若未能升入重点大学，全额退还学费", "education.guarantee"),
        ("不开刀、不手术、不复发", "medical.efficacy"),  # no recurrence promised
        ("治疗不孕不育成功率达98%", "medical.efficacy"),  # a cure rate by another name
        ("只吃一种药治好一身病", "medical.efficacy"),  # 包治百病 in other words
        ("对二十多种疾病都有作用", "medical.efficacy"),
        ("那些大牌成本几百卖几万", "conduct.disparage"),  # others said to profiteer
        ("已拥有中国最大的会员俱乐部", "absolute.superlative"),
        ("创下全市楼盘绿化率之最", "absolute.superlative"),
        ("中国第一罐", "absolute.superlative"),
        ("抖音点赞，日薪百元", "finance.guarantee"),  # pay promised for a task
        ("台湾最大的电子报发送平台", "absolute.superlative"),
        ("带给你前所未有的体验", "absolute.superlative"),
        ("国家AA级膏药", "authority.state"),
        ("网络兼职，工资日结150到300", "finance.guarantee"),
        ("利润达几十、几百倍", "conduct.disparage"),
    ],
)
def test_each_category_is_found(scanner: Scanner, text: str, category: str) -> None:
    assert category in categories(scanner, text)


@pytest.mark.parametrize(
    "text",
    [
        "最近很多朋友在问发货的问题",
        "第一次来直播间的朋友点个关注",
        "第一步先把脸洗干净",
        "每人最多限购两件，至少买一件",
        "一号链接是这件外套，第一个链接已经上了",
        "我们的目标是打造第一品牌",
        "最佳使用时间是睡前",
        "广告法不让说最好，大家自己体会",
        "我最好的朋友也在用",
        "这是今年的最新款",
        "这件衣服是百分之百纯棉的",
        "你最好先量一下尺码再拍",
        "大家最好看一下说明书再用",
        "最好吃点东西再喝，别空腹",
        "最好用温水洗，别用热水",
        "你最好吃完饭再来",
        "最后一个小时的直播我们聊聊新品",
        "孩子能进重点学校靠的是自己努力",
        "没考上也没关系，课程可以申请退款吗",
        "课程不满意七天无理由退款",
        "直播这一年，是我压力最大、最辛苦的一年",  # the speaker's year, not the goods
        "上周最忙的时候我们一天发了两千单",
        "这个抽奖的成功率很高，大家多点几次",  # a rate, but not of a cure
        "成本几十块卖几十块，我们就赚个运费",
        "每天只要一块钱，一个月三十块",  # a price by the day, no pay
        "大熊猫是国家一级保护动物",
        "这双鞋内增高5cm，穿着很舒服",  # a shoe's fact (增高 is a claim only for food)
    ],
)
def test_traps_are_not_claims(scanner: Scanner, text: str) -> None:
    assert scanner.scan(text) == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("這是全網第一", "absolute.superlative"),
        ("全網最低價", "price.fake_reference"),
        ("我们家全网第1", "absolute.superlative"),
        ("绝对的NO.1", "absolute.superlative"),
        ("销量Top.1", "absolute.superlative"),
        ("这个最 好用", "absolute.superlative"),
        ("顶 级工艺", "absolute.superlative"),
        ("全网底价", "price.fake_reference"),
        ("类目底价直接给到你们", "price.fake_reference"),
        ("百分之百有效", "absolute.guarantee"),
        ("100%有效", "absolute.guarantee"),
    ],
)
def test_evasions_are_caught(scanner: Scanner, text: str, category: str) -> None:
    assert category in categories(scanner, text)


def test_spans_point_at_the_words_as_written(scanner: Scanner) -> None:
    text = "今天全網 最低價，大家快来"
    [match] = scanner.scan(text)
    assert text[match.start : match.end] == "全網 最低價"
    assert match.kind == "variant"
    plain = "今天全网最低价"
    [match] = scanner.scan(plain)
    assert match.kind == "exact"


def test_longer_claim_wins_over_the_term_inside_it(scanner: Scanner) -> None:
    matches = scanner.scan("全网最低价")
    assert [(m.category, m.term) for m in matches] == [("price.fake_reference", "全网最低价")]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("喝了两个月血压降到120了", "medical.claim"),
        ("坚持吃，血糖降至6点多", "medical.claim"),
        ("这个贴可以去疣，扁平疣也能消", "medical.claim"),
        ("身体里的重金属慢慢就排出来了", "medical.claim"),
        ("不打针不吃药，颈椎病就好了", "medical.claim"),
        ("这款面霜用了之后黄褐斑淡化了", "cosmetics.special_claim"),
        ("百分之百治好你的失眠", "absolute.guarantee"),
        ("百分之百治好你的失眠", "medical.efficacy"),
        ("包你一个月内减肥成功", "absolute.guarantee"),
        ("这种眼贴能让视力永久清晰", "absolute.guarantee"),
        ("大家没必要为了品牌溢价去买单", "conduct.disparage"),
        ("他们卖那么贵都是因为请明星代言", "conduct.disparage"),
        ("想要多少粉丝都可以定制", "data.fake_traffic"),
        ("兼职点赞，日结工资", "data.fake_traffic"),
        ("我们有特殊渠道，考试包过", "education.guarantee"),
        ("这家店要关门了，清仓处理", "price.fake_reference"),
        ("下播马上恢复到199元", "price.fake_reference"),
        ("划线价399元今天只要99元", "price.fake_reference"),
    ],
)
def test_real_phrasings_of_issue_13(scanner: Scanner, text: str, category: str) -> None:
    """Claims as real streams word them (issue 13): parts that combine, guarantees inside
    other claims, reasons invented for a price cut."""
    assert category in categories(scanner, text)


@pytest.mark.parametrize(
    "text",
    [
        "100%纯棉的面料",
        "配方100%不含激素",
        "保护好自己的皮肤，投资的钱不受法律保护",
        "他家质量差不多",
        "平台不得要求商家签订最低价协议",
        "市肿瘤防治中心的专家来了",
    ],
)
def test_traps_of_issue_13_are_not_claims(scanner: Scanner, text: str) -> None:
    assert not categories(scanner, text)


def test_a_drug_stream_says_use_not_trial() -> None:
    """使用 sounds like 试用 (a drug may not be offered for free trial), and every drug stream says
    it: only the written word is the claim."""
    drug = Scanner(load_lexicon(), product="drug")
    assert drug.scan("请严格遵医嘱，按说明书使用，不能自行调整用量") == []
    assert "medical.claim" in {m.category for m in drug.scan("新客可以免费试用一个疗程")}
