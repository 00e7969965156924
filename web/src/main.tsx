// The web client's entry: the SDK against the edge that served this page, the app state over it,
// and the views.
import { render } from "preact";
import { createChatClient } from "../../client/index.js";
import { ChatApp } from "./chat/app-state.js";
import { deviceId } from "./chat/device-id.js";
import { sdkBackend } from "./chat/sdk-backend.js";
import { App } from "./ui/app.js";
import "./styles.css";

const chat = createChatClient({ baseUrl: location.origin, deviceId: deviceId(localStorage) });
const app = new ChatApp(sdkBackend(chat));
render(<App app={app} />, document.getElementById("app")!);
void app.start();
