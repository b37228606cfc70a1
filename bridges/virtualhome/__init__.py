"""VirtualHome (TWOSOME's Food Preparation and Entertainment): ``make_env`` lives in ``bridges.virtualhome.env``."""
