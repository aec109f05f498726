"""placeholder"""


async def on_action(req, event):
    raise NotImplementedError
