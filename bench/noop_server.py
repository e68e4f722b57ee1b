"""A do-nothing MCP server on the same SDK: one tool that returns a constant at once.

The baseline for bench/stdio_calls.py. `--transport sdk` serves with the SDK's own
`stdio_server()`; `--transport pipes` with the asyncio-pipe transport binance-mcp uses;
`--transport http` over Streamable HTTP exactly as `serve --http` does (face/http.py: the SDK's
app on uvicorn, tokens from `--tokens FILE`, Host and Origin checks), printing its URL first:
the baseline for bench/http_calls.py.

    python bench/noop_server.py [--transport sdk|pipes|http] [--tokens FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.types import CallToolRequestParams, CallToolResult, ListToolsResult, TextContent, Tool

from binance_mcp.face.http import HttpOptions, serve_http
from binance_mcp.face.stdio import pipe_streams

CONSTANT = {"symbol": "BTCUSDT", "price": "0.00000000"}
TOOL = Tool(name="get_ticker_price", description="constant", input_schema={"type": "object"})


async def list_tools(ctx: ServerRequestContext[Any], params: Any) -> ListToolsResult:
    return ListToolsResult(tools=[TOOL])


async def call_tool(ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text='{"price":"0"}')], structured_content=CONSTANT)


async def main(transport: str, tokens: str) -> None:
    server = Server("noop", version="0", on_list_tools=list_tools, on_call_tool=call_tool)
    if transport == "http":
        await serve_http(server, HttpOptions(port=0, tokens=Path(tokens)))
        return
    streams = stdio_server() if transport == "sdk" else pipe_streams()
    async with streams as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=("sdk", "pipes", "http"), default="sdk")
    parser.add_argument("--tokens", default="tokens.json", help="http: the token file")
    args = parser.parse_args()
    asyncio.run(main(args.transport, args.tokens))
