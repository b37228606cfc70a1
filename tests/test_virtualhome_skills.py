"""VirtualHome skill library: the spec's prompt sentences and masks, from flag states directly."""

from __future__ import annotations

import pytest

from skills import virtualhome as sk

HEAD = "There are four rooms: the kitchen, bathroom, bedroom, and living room. "
ENT_TAIL = "In order to enjoy the chips and the milk while watching TV, your next step is to"


def food(**on) -> dict[str, int]:
    f = {n: 0 for n in sk.FOOD_FLAGS}
    f.update(in_kitchen=1, see_pancake=1, see_microwave=1)
    f.update(on)
    return f


def ent(room: str = "livingroom", **on) -> dict[str, int]:
    f = {n: 0 for n in sk.ENT_FLAGS}
    f[f"in_{room}"] = 1
    if room == "livingroom":
        f.update(see_tv=1, see_sofa=1, see_coffeetable=1)
    if room == "kitchen":
        f.update(see_chips=1, see_milk=1)
    f.update(on)
    return f


def test_skill_tables_match_the_spec():
    food_skills = sk.food_skills()
    assert [s.id for s in food_skills] == list(range(10))
    assert food_skills[7].text == "put the pancake in the microwave"
    assert food_skills[7].line({"pancake": 62, "microwave": 109}) == "[PUTIN] <pancake> (62) <microwave> (109)"
    ent_skills = sk.entertainment_skills()
    assert [s.id for s in ent_skills] == list(range(17))
    assert ent_skills[16].text == "stand up from the sofa" and ent_skills[16].line({}) == "[StandUp]"
    assert ent_skills[9].line({"chips": 61}) == "[Grab] <chips> (61)"
    assert len(sk.FOOD_FLAGS) == 11 and len(sk.ENT_FLAGS) == 21


@pytest.mark.parametrize(
    "flags, sentence, mask",
    [
        (dict(hold_pancake=1, close_to_pancake=1, close_to_microwave=1),
         "Currently, you have grabbed the pancake in hand. The microwave is close to you. ", [0, 2, 3, 4, 7, 8, 9]),
        (dict(hold_pancake=1, close_to_pancake=1),
         "Currently, you have grabbed the pancake in hand. The microwave is not close to you. ", [0, 2, 3, 4, 5]),
        (dict(close_to_pancake=1),
         "Currently, you are not grabbing anything in hand. The pancake is close to you. ", [0, 2, 3, 5, 6]),
        (dict(close_to_microwave=1),
         "Currently, you are not grabbing anything in hand. The microwave is close to you. ", [0, 2, 3, 4, 8, 9]),
        (dict(close_to_pancake=1, close_to_microwave=1),
         "You notice pancake and microwave. The microwave is not opend. ", [0, 2, 3, 9]),
        (dict(close_to_pancake=1, close_to_microwave=1, is_microwave_open=1),
         "You notice pancake and microwave. The microwave is opened. ", [0, 2, 3, 8, 9]),
        (dict(see_pancake=0, close_to_microwave=1), "The pancake is in the microwave. ", [0, 2, 3]),
    ],
)
def test_food_kitchen_rows(flags, sentence, mask):
    text, got = sk.food_text(food(**flags))
    assert sentence in text and got == mask
    assert text.startswith(HEAD + "You are in the kitchen. ")
    assert text.endswith("In order to heat up the pancake in the microwave, your next step is to")


def test_food_microwave_closed_sentence_replaces_the_mask():
    text, mask = sk.food_text(food(see_pancake=0, close_to_microwave=1))
    assert text.endswith("The microwave is close to you. The microwave is closed. In order to heat up the pancake "
                         "in the microwave, your next step is to") and mask == [0, 2, 3]


def test_variant_words_keep_the_grammar():
    text, _ = sk.food_text(food(see_pancake=0), sk.FOOD_VARIANTS["washing-plate"])
    assert "The dishes is in the dishwasher. " in text
    assert text.endswith("In order to heat up the dishes in the dishwasher, your next step is to")


@pytest.mark.parametrize(
    "flags, body, mask",
    [
        (dict(), "and notice chips and milk. But they are not close to you. "
                 "Currently, you are not grabbing anything in hand. ", [0, 2, 3, 4, 5]),
        (dict(close_to_chips=1, close_to_milk=1), "They are close to you. But you have not grabbed the them. ",
         [0, 2, 3, 9, 10]),
        (dict(close_to_milk=1), "The milk is close to you. But you have not grabbed the milk. ", [0, 2, 3, 4, 10]),
        (dict(hold_chips=1, close_to_chips=1, close_to_milk=1),
         "The milk is close to you. But you have not grabbed the milk. Currently, you have grabbed the chips in hand. ",
         [0, 2, 3, 10]),
        (dict(hold_milk=1, close_to_milk=1),
         "The chips are not close to you. Currently, you have grabbed the milk in hand. ", [0, 2, 3, 4]),
        (dict(hold_chips=1, hold_milk=1), "Currently, you have grabbed the chips and the milk in hand. ", [0, 2, 3]),
        (dict(see_milk=0), "and only notice chips. The chips are not close to you. ", [0, 2, 3, 5]),
        (dict(see_chips=0, close_to_milk=1),
         "and notice milk. The milk is close to you. But you have not grabbed the milk. ", [0, 2, 3, 10]),
        (dict(see_chips=0, see_milk=0), "and notice nothing. ", [0, 2, 3]),
    ],
)
def test_entertainment_kitchen(flags, body, mask):
    text, got = sk.entertainment_text(ent("kitchen", **flags))
    assert text.startswith(HEAD + "You are in the kitchen and ")
    assert body in text and got == mask and text.endswith(ENT_TAIL)


def test_entertainment_room_sentence_has_no_full_stop():
    text, mask = sk.entertainment_text(ent("bedroom", hold_milk=1))
    assert text == (HEAD + "You are in the bedroom and notice nothing. Currently, you have grabbed the milk in hand. "
                    + ENT_TAIL)
    assert mask == [0, 1, 2]
    assert sk.entertainment_text(ent("bathroom"))[1] == [0, 1, 3]


@pytest.mark.parametrize(
    "flags, body, mask",
    [
        (dict(hold_chips=1),
         "They are not close to you. Currently, you have grabbed the chips in hand. " + ENT_TAIL, [1, 2, 3, 6, 7, 8]),
        (dict(close_to_coffeetable=1, hold_chips=1),
         "The coffee table is close to you. Currently, you have grabbed the chips in hand. "
         "Currently, you have grabbed the chips in hand. " + ENT_TAIL, [1, 2, 3, 7, 8, 11]),
        (dict(close_to_coffeetable=1, hold_chips=1, milk_on_coffeetable=1),
         "The TV is not close to you. Currently, you have grabbed the chips in hand. Currently, you have the milk on "
         "the coffee table and the chips in your hand. " + ENT_TAIL, [1, 2, 3, 7, 8]),
        (dict(close_to_coffeetable=1, hold_chips=1, hold_milk=1),
         "The coffee table is close to you. Currently, you have grabbed the chips and the milk in hand. " + ENT_TAIL,
         [1, 2, 3, 7, 8, 11, 12]),
        (dict(close_to_coffeetable=1),
         "The coffee table is close to you. Currently, you are not grabbing anything in hand. " + ENT_TAIL, [1, 2, 3]),
        (dict(close_to_tv=1, hold_chips=1, hold_milk=1),
         "The TV is close to you. Currently, you have grabbed the chips and the milk in hand. " + ENT_TAIL,
         [1, 2, 3, 6, 8, 13, 14]),
        (dict(close_to_tv=1, is_tv_on=1, hold_milk=1, chips_on_coffeetable=1),
         "The sofa is not close to you. Currently, the TV is turned on, you have the chips on the coffee table and "
         "the milk in your hand. " + ENT_TAIL, [1, 2, 3, 6, 8]),
        (dict(close_to_sofa=1), "The sofa is close to you. " + ENT_TAIL, [1, 2, 3, 6, 7]),
        (dict(close_to_sofa=1, is_tv_on=1), "The sofa is close to you. " + ENT_TAIL, [1, 2, 3, 6, 7, 15, 16]),
        (dict(close_to_sofa=1, is_tv_on=1, is_sit_sofa=1, hold_milk=1),
         "You are sitting on the sofa. Currently, the TV is turned on, you have grabbed the milk in hand. " + ENT_TAIL,
         [1, 2, 3]),
    ],
)
def test_entertainment_living_room(flags, body, mask):
    text, got = sk.entertainment_text(ent("livingroom", **flags))
    assert text == HEAD + "You are in the living room and you notice a coffee table, a TV and a sofa. " + body
    assert got == mask


def test_no_room_flag_is_an_error():
    f = {n: 0 for n in sk.FOOD_FLAGS}
    with pytest.raises(ValueError, match="none of the four rooms"):
        sk.food_text(f)
