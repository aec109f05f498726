"""placeholder"""


async def on_member_joined(req, event):
    raise NotImplementedError
