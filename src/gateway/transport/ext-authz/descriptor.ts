/**
 * Generated from the .proto files in ./proto by test/helpers/ext-authz-protos.ts (run it as a
 * script after changing them); a unit test fails when this file and the .proto files disagree.
 * The gateway loads this descriptor, so the image needs no .proto file and no parser.
 */

export const EXT_AUTHZ_DESCRIPTOR = {
  nested: {
    envoy: {
      nested: {
        service: {
          nested: {
            auth: {
              nested: {
                v3: {
                  nested: {
                    Authorization: { methods: { Check: { requestType: 'CheckRequest', responseType: 'CheckResponse' } } },
                    CheckRequest: { fields: { attributes: { type: 'AttributeContext', id: 1 } } },
                    DeniedHttpResponse: {
                      fields: {
                        status: { type: 'type.v3.HttpStatus', id: 1 },
                        headers: { rule: 'repeated', type: 'config.core.v3.HeaderValueOption', id: 2 },
                        body: { type: 'string', id: 3 },
                      },
                    },
                    OkHttpResponse: {
                      fields: {
                        headers: { rule: 'repeated', type: 'config.core.v3.HeaderValueOption', id: 2 },
                        headers_to_remove: { rule: 'repeated', type: 'string', id: 5 },
                        response_headers_to_add: { rule: 'repeated', type: 'config.core.v3.HeaderValueOption', id: 6 },
                      },
                    },
                    CheckResponse: {
                      oneofs: { http_response: { oneof: ['denied_response', 'ok_response'] } },
                      fields: {
                        status: { type: 'google.rpc.Status', id: 1 },
                        denied_response: { type: 'DeniedHttpResponse', id: 2 },
                        ok_response: { type: 'OkHttpResponse', id: 3 },
                      },
                    },
                    AttributeContext: {
                      fields: { request: { type: 'Request', id: 4 }, context_extensions: { keyType: 'string', type: 'string', id: 10 } },
                      nested: {
                        Request: { fields: { http: { type: 'HttpRequest', id: 2 } } },
                        HttpRequest: {
                          fields: {
                            id: { type: 'string', id: 1 },
                            method: { type: 'string', id: 2 },
                            headers: { keyType: 'string', type: 'string', id: 3 },
                            header_map: { type: 'config.core.v3.HeaderMap', id: 13 },
                            path: { type: 'string', id: 4 },
                            host: { type: 'string', id: 5 },
                            scheme: { type: 'string', id: 6 },
                            protocol: { type: 'string', id: 10 },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        config: {
          nested: {
            core: {
              nested: {
                v3: {
                  nested: {
                    HeaderValue: {
                      fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 }, raw_value: { type: 'bytes', id: 3 } },
                    },
                    HeaderValueOption: {
                      fields: {
                        header: { type: 'HeaderValue', id: 1 },
                        append_action: { type: 'HeaderAppendAction', id: 3 },
                        keep_empty_value: { type: 'bool', id: 4 },
                      },
                      nested: {
                        HeaderAppendAction: {
                          values: { APPEND_IF_EXISTS_OR_ADD: 0, ADD_IF_ABSENT: 1, OVERWRITE_IF_EXISTS_OR_ADD: 2, OVERWRITE_IF_EXISTS: 3 },
                        },
                      },
                    },
                    HeaderMap: { fields: { headers: { rule: 'repeated', type: 'HeaderValue', id: 1 } } },
                  },
                },
              },
            },
          },
        },
        type: {
          nested: {
            v3: { nested: { HttpStatus: { fields: { code: { type: 'StatusCode', id: 1 } } }, StatusCode: { values: { Empty: 0 } } } },
          },
        },
      },
    },
    google: { nested: { rpc: { nested: { Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } } } } } },
  },
};
