"""The Asterisk side of the hotline: a Stasis application over ARI (``gridline ari``).

``settings`` (where ARI is), ``client`` (ari-client's REST + our event WebSocket with reconnection),
``transport`` (httpx over aiohttp), ``lanes`` (per-call ordered work), ``menu_port`` (the actions a menu
asks for and the outcomes it hears), ``call`` (one call's ARI side), ``app`` (the Stasis application),
``queue`` (the callers waiting for an agent, and the offers), ``agents`` (who takes them: the console's
agents by presence, or fixed endpoints), ``prompts`` (prompt → media), ``hotline_menu`` (the configured
``ivr.menu`` engine on the port), ``call_services`` (call records, call-backs, agents' calls, voice
messages in the database), ``basic_menu`` (built-in test menu). Sample Asterisk configuration: ``ivr/asterisk/``.
"""
