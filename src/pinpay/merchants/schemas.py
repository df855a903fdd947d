"""Shapes of the OAuth token endpoint and the JWKS, for the OpenAPI document."""

from pydantic import BaseModel


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthErrorBody(BaseModel):
    """RFC 6749 section 5.2: not the Paysafecard error object, as OAuth clients expect."""

    error: str
    error_description: str | None = None


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class Jwks(BaseModel):
    keys: list[Jwk]


TOKEN_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "scope": {"type": "string", "description": "Space-separated, optional"},
                    "client_id": {"type": "string", "description": "client_secret_post only"},
                    "client_secret": {"type": "string", "description": "client_secret_post only"},
                },
            }
        }
    },
}
