"""VirtualHome skill library for TWOSOME's tasks: action texts, script lines, valid-skill rules.

Standard library only. Follows ``shared/specs/virtualhome-tasks.md``:

- Food Preparation (``VirtualHome-v1``, §3) and its unseen-task word variants (§6);
- Entertainment (``VirtualHome-v2``, §4, the ``policy_v2`` prompt and mask that training used).

A skill is an action id with an LLM text and a VirtualHome script line whose object ids
come from the scene (``{pancake}`` etc. are filled with resolved node ids). The observation
text and the mask (the ids offered now) are functions of the task's binary flags only.
The typos and repetitions of the original prompts ("not opend", "grabbed the them", the
duplicated chips sentence) are kept on purpose: they are what the policy was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

CLOSING = "your next step is to"
ROOMS_SENTENCE = "There are four rooms: the kitchen, bathroom, bedroom, and living room. "
ROOM_WORDS = {"kitchen": "kitchen", "bathroom": "bathroom", "bedroom": "bedroom", "livingroom": "living room"}


@dataclass(frozen=True)
class Skill:
    """One action: its env id, its LLM text, and its script line template (``{role}`` = id)."""

    id: int
    text: str
    script: str

    def line(self, ids: dict[str, int]) -> str:
        """The script line with the scene's ids filled in."""
        return self.script.format(**ids)


# --------------------------------------------------------------------------- Food Preparation


@dataclass(frozen=True)
class FoodWords:
    """The two nouns of a Food Preparation variant (§6): the food X and the appliance Y."""

    food: str = "pancake"
    appliance: str = "microwave"


FOOD_VARIANTS: dict[str, FoodWords] = {
    "pancake": FoodWords("pancake", "microwave"),
    "cheese": FoodWords("cheese", "microwave"),
    "hamburger": FoodWords("hamburger", "microwave"),
    "apple-pie": FoodWords("apple pie", "microwave"),
    "pizza": FoodWords("pizza", "microwave"),
    "washing-plate": FoodWords("dishes", "dishwasher"),
    "laundry": FoodWords("clothes", "washing machine"),
}

FOOD_FLAGS = (
    "in_kitchen",
    "in_bathroom",
    "in_bedroom",
    "in_livingroom",
    "see_pancake",
    "close_to_pancake",
    "hold_pancake",
    "see_microwave",
    "close_to_microwave",
    "is_microwave_open",
    "pancake_in_microwave",
)


def food_skills(words: FoodWords = FoodWords()) -> list[Skill]:
    """The 10 Food Preparation actions (§3.1), texts in the variant's words."""
    x, y = words.food, words.appliance
    return [
        Skill(0, "walk to the living room", "[WALK] <livingroom> ({livingroom})"),
        Skill(1, "walk to the kitchen", "[WALK] <kitchen> ({kitchen})"),
        Skill(2, "walk to the bathroom", "[WALK] <bathroom> ({bathroom})"),
        Skill(3, "walk to the bedroom", "[WALK] <bedroom> ({bedroom})"),
        Skill(4, f"walk to the {x}", "[WALK] <pancake> ({pancake})"),
        Skill(5, f"walk to the {y}", "[WALK] <microwave> ({microwave})"),
        Skill(6, f"grab the {x}", "[GRAB] <pancake> ({pancake})"),
        Skill(7, f"put the {x} in the {y}", "[PUTIN] <pancake> ({pancake}) <microwave> ({microwave})"),
        Skill(8, f"open the {y}", "[OPEN] <microwave> ({microwave})"),
        Skill(9, f"close the {y}", "[CLOSE] <microwave> ({microwave})"),
    ]


def _room(f: dict[str, int]) -> str:
    for room in ("kitchen", "bathroom", "bedroom", "livingroom"):
        if f[f"in_{room}"]:
            return room
    raise ValueError("the character is inside none of the four rooms (no in_<room> flag is set)")


def food_text(f: dict[str, int], words: FoodWords = FoodWords()) -> tuple[str, list[int]]:
    """Prompt text and valid action ids for Food Preparation (§3.4, ``policy_v1.obs2text``)."""
    x, y = words.food, words.appliance
    room = _room(f)
    text = ROOMS_SENTENCE + f"You are in the {ROOM_WORDS[room]}. "
    if room == "kitchen":
        text += f"The {x} is in the {y}. " if not f["see_pancake"] else f"You notice {x} and {y}. "
        holding, close_p, close_m = f["hold_pancake"], f["close_to_pancake"], f["close_to_microwave"]
        if holding and close_m:
            text += f"Currently, you have grabbed the {x} in hand. The {y} is close to you. "
            mask = [0, 2, 3, 4, 7, 8, 9]
        elif holding:
            text += f"Currently, you have grabbed the {x} in hand. The {y} is not close to you. "
            mask = [0, 2, 3, 4, 5]
        elif close_p and not close_m:
            text += f"Currently, you are not grabbing anything in hand. The {x} is close to you. "
            mask = [0, 2, 3, 5, 6]
        elif close_m and not close_p:
            text += f"Currently, you are not grabbing anything in hand. The {y} is close to you. "
            mask = [0, 2, 3, 4, 8, 9]
        elif not close_p and not close_m:
            text += f"Currently, you are not grabbing anything in hand. The {x} and the {y} are not close to you. "
            mask = [0, 2, 3, 4, 5]
        else:
            mask = [0, 2, 3, 8, 9] if f["is_microwave_open"] else [0, 2, 3, 9]
        if f["see_pancake"]:
            text += f"The {y} is opened. " if f["is_microwave_open"] else f"The {y} is not opend. "
        else:
            text += f"The {y} is closed. "
            mask = [0, 2, 3]
    else:
        text += "and notice nothing useful. "
        text += (
            f"Currently, you have grabbed the {x} in hand. "
            if f["hold_pancake"]
            else "Currently, you are not grabbing anything in hand. "
        )
        mask = {"bathroom": [0, 1, 3], "bedroom": [0, 1, 2], "livingroom": [1, 2, 3]}[room]
    text += f"In order to heat up the {x} in the {y}, " + CLOSING
    return text, mask


# --------------------------------------------------------------------------- Entertainment

ENT_FLAGS = (
    "in_kitchen",
    "in_bathroom",
    "in_bedroom",
    "in_livingroom",
    "see_chips",
    "close_to_chips",
    "hold_chips",
    "chips_on_coffeetable",
    "see_milk",
    "close_to_milk",
    "hold_milk",
    "milk_on_coffeetable",
    "see_tv",
    "close_to_tv",
    "is_face_tv",
    "is_tv_on",
    "see_sofa",
    "close_to_sofa",
    "is_sit_sofa",
    "see_coffeetable",
    "close_to_coffeetable",
)


def entertainment_skills() -> list[Skill]:
    """The 17 Entertainment actions (§4.1)."""
    return [
        Skill(0, "walk to the living room", "[WALK] <livingroom> ({livingroom})"),
        Skill(1, "walk to the kitchen", "[WALK] <kitchen> ({kitchen})"),
        Skill(2, "walk to the bathroom", "[WALK] <bathroom> ({bathroom})"),
        Skill(3, "walk to the bedroom", "[WALK] <bedroom> ({bedroom})"),
        Skill(4, "walk to the chips", "[WALK] <chips> ({chips})"),
        Skill(5, "walk to the milk", "[WALK] <milk> ({milk})"),
        Skill(6, "walk to the coffee table", "[WALK] <coffeetable> ({coffeetable})"),
        Skill(7, "walk to the TV", "[WALK] <television> ({tv})"),
        Skill(8, "walk to the sofa", "[WALK] <sofa> ({sofa})"),
        Skill(9, "grab the chips", "[Grab] <chips> ({chips})"),
        Skill(10, "grab the milk", "[Grab] <milk> ({milk})"),
        Skill(11, "put the chips on the coffee table", "[putback] <chips> ({chips}) <coffeetable> ({coffeetable})"),
        Skill(12, "put the milk on the coffee table", "[putback] <milk> ({milk}) <coffeetable> ({coffeetable})"),
        Skill(13, "turn on the TV", "[SWITCHON] <television> ({tv})"),
        Skill(14, "turn off the TV", "[SWITCHOFF] <television> ({tv})"),
        Skill(15, "sit on the sofa", "[SIT] <sofa> ({sofa})"),
        Skill(16, "stand up from the sofa", "[StandUp]"),
    ]


def _simple_hand(chips: int, milk: int) -> str:
    if chips and milk:
        return "Currently, you have grabbed the chips and the milk in hand. "
    if chips:
        return "Currently, you have grabbed the chips in hand. "
    if milk:
        return "Currently, you have grabbed the milk in hand. "
    return "Currently, you are not grabbing anything in hand. "


def _hand_phrase(f: dict[str, int], prefix: str) -> str:
    """The living-room hand phrase H (§4.4) with prefix P."""
    chips, milk = f["hold_chips"], f["hold_milk"]
    if chips and milk:
        return prefix + "you have grabbed the chips and the milk in hand. "
    if milk:
        if f["chips_on_coffeetable"]:
            return prefix + "you have the chips on the coffee table and the milk in your hand. "
        return prefix + "you have grabbed the milk in hand. "
    if chips:
        first = prefix + "you have grabbed the chips in hand. "
        if f["milk_on_coffeetable"]:
            return first + prefix + "you have the milk on the coffee table and the chips in your hand. "
        return first + first
    return ""


def _kitchen_text(f: dict[str, int]) -> tuple[str, list[int]]:
    chips, milk = f["hold_chips"], f["hold_milk"]
    near_c, near_m = f["close_to_chips"], f["close_to_milk"]
    if f["see_chips"] and f["see_milk"]:
        text = "and notice chips and milk. "
        if chips and milk:
            return text + "Currently, you have grabbed the chips and the milk in hand. ", [0, 2, 3]
        if chips:
            if near_m:
                return (
                    text + "The milk is close to you. But you have not grabbed the milk. "
                    "Currently, you have grabbed the chips in hand. ",
                    [0, 2, 3, 10],
                )
            return text + "The milk is not close to you. Currently, you have grabbed the chips in hand. ", [0, 2, 3, 5]
        if milk:
            if near_c:
                return (
                    text + "The chips are close to you. But you have not grabbed the chips. "
                    "Currently, you have grabbed the milk in hand. ",
                    [0, 2, 3, 9],
                )
            return text + "The chips are not close to you. Currently, you have grabbed the milk in hand. ", [0, 2, 3, 4]
        if near_c and near_m:
            text, mask = text + "They are close to you. But you have not grabbed the them. ", [0, 2, 3, 9, 10]
        elif near_c:
            text, mask = text + "The chips are close to you. But you have not grabbed the chips. ", [0, 2, 3, 5, 9]
        elif near_m:
            text, mask = text + "The milk is close to you. But you have not grabbed the milk. ", [0, 2, 3, 4, 10]
        else:
            text, mask = text + "But they are not close to you. ", [0, 2, 3, 4, 5]
        return text + "Currently, you are not grabbing anything in hand. ", mask
    if f["see_chips"]:
        text = "and only notice chips. "
        if chips:
            return text + "Currently, you have grabbed the chips in hand. ", [0, 2, 3]
        if near_c:
            return text + "The chips are close to you. But you have not grabbed the chips. ", [0, 2, 3, 9]
        return text + "The chips are not close to you. ", [0, 2, 3, 5]
    if f["see_milk"]:
        text = "and notice milk. "
        if milk:
            return text + "Currently, you have grabbed the milk in hand. ", [0, 2, 3]
        if near_m:
            return text + "The milk is close to you. But you have not grabbed the milk. ", [0, 2, 3, 10]
        return text + "The milk is not close to you. ", [0, 2, 3, 4]
    return "and notice nothing. ", [0, 2, 3]


def _living_room_text(f: dict[str, int]) -> tuple[str, list[int]]:
    text = "and you notice a coffee table, a TV and a sofa. "
    chips, milk = f["hold_chips"], f["hold_milk"]
    plain = "Currently, "
    tv_on = "Currently, the TV is turned on, "
    # TWOSOME asserts the character is close to at most one of the three; this order decides otherwise.
    if f["close_to_coffeetable"]:
        crossed = (f["chips_on_coffeetable"] and milk) or (f["milk_on_coffeetable"] and chips)
        text += "The TV is not close to you. " if crossed else "The coffee table is close to you. "
        text += _hand_phrase(f, plain) if (chips or milk) else "Currently, you are not grabbing anything in hand. "
        if chips and milk:
            mask = [1, 2, 3, 7, 8, 11, 12]
        elif milk:
            mask = [1, 2, 3, 7, 8] if f["chips_on_coffeetable"] else [1, 2, 3, 7, 8, 12]
        elif chips:
            mask = [1, 2, 3, 7, 8] if f["milk_on_coffeetable"] else [1, 2, 3, 7, 8, 11]
        else:
            mask = [1, 2, 3]
        return text, mask
    if f["close_to_tv"]:
        if f["is_tv_on"]:
            return text + "The sofa is not close to you. " + _hand_phrase(f, tv_on), [1, 2, 3, 6, 8]
        return text + "The TV is close to you. " + _hand_phrase(f, plain), [1, 2, 3, 6, 8, 13, 14]
    if f["close_to_sofa"]:
        prefix = tv_on if f["is_tv_on"] else plain
        if f["is_sit_sofa"]:
            return text + "You are sitting on the sofa. " + _hand_phrase(f, prefix), [1, 2, 3]
        mask = [1, 2, 3, 6, 7, 15, 16] if f["is_tv_on"] else [1, 2, 3, 6, 7]
        return text + "The sofa is close to you. " + _hand_phrase(f, prefix), mask
    return text + "They are not close to you. " + _simple_hand(chips, milk), [1, 2, 3, 6, 7, 8]


def entertainment_text(f: dict[str, int]) -> tuple[str, list[int]]:
    """Prompt text and valid action ids for Entertainment (§4.4, ``policy_v2.obs2text``)."""
    room = _room(f)
    text = ROOMS_SENTENCE + f"You are in the {ROOM_WORDS[room]} "
    if room == "kitchen":
        body, mask = _kitchen_text(f)
    elif room == "livingroom":
        body, mask = _living_room_text(f)
    else:
        body = "and notice nothing. " + _simple_hand(f["hold_chips"], f["hold_milk"])
        mask = [0, 1, 2] if room == "bedroom" else [0, 1, 3]
    return text + body + "In order to enjoy the chips and the milk while watching TV, " + CLOSING, mask
