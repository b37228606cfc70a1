"""Learning algorithms behind one seam (``base.Algorithm``, ``base.make_algorithm``): PPO (``ppo``) and a
critic-free group-relative one (``grpo``), over the one GAE (``gae``)."""
